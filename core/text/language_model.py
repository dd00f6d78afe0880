"""Text models as the lesson uses them: load, score by the chain rule, and generate step by step.

Every model here, whatever its architecture, defines p(x1..xn) by the chain rule

    p(x1..xn) = p(x1 | <start>) * p(x2 | <start> x1) * ... * p(<end> | <start> x1..xn)

with one network computing every conditional from the tokens before it. ``score`` reads those
factors off the model (the likelihood ledger); ``generate`` draws from them one token at a time.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import torch.nn as nn

from core.checkpoint import MODELS_DIR, load_checkpoint, load_state_into
from core.checkpoint import models_dir as default_models_dir
from core.errors import CheckpointError, InputError, ModelNotFoundError
from core.models import build
from core.models.kv_cache import KVCache
from core.text.sampling import SamplingSettings, SamplingStages, sample_token
from core.text.vocab import Vocab
from core.validation import check_seed

DEFAULT_SETTINGS = SamplingSettings()  # temperature 1, nothing truncated: samples follow the model's joint

# The models we train and ship in assets/models, with the one-line description the app shows.
TRAINED_MODELS = {
    "names": "a small causal transformer trained on 31,000 US baby names",
    "names-bigram": "exact add-one-smoothed bigram counts on the same names",
    "names-leaky": "the same transformer trained WITHOUT the causal mask (the pitfall)",
    "names-reversed": "the same transformer trained on the same names written right to left (another ordering)",
    "names-mlp": "an MLP over the last 5 characters only (Bengio et al. 2003), trained on the same names",
    "names-gru": "a GRU recurrent network: one fixed-size state reads the whole prefix, trained on the same names",
    "names-wavenet": "a WaveNet: dilated causal convolutions that read the last 8 characters, trained on the same names",
    "names-wavenet-leaky": "the same WaveNet with centred kernels that read the next characters too (the pitfall)",
    "shakespeare": "a character transformer trained on tiny-shakespeare",
}
# A real small LLM, read from the GGUF file inside its PyPI wheel (core.text.gguf_llm).
LLM_MODELS = {
    "smollm2": "SmolLM2-135M-Instruct: a real 135M-parameter LLM (Llama family) with a 49,152-token BPE vocabulary",
}
TEXT_MODELS = {**TRAINED_MODELS, **LLM_MODELS}


@dataclass
class TextModel:
    name: str
    vocab: Vocab
    net: nn.Module  # any text network of core.models; forward(idx, targets=None) -> (logits, loss)
    card: dict = field(repr=False)

    @property
    def block_size(self) -> int:
        return self.net.block_size

    @property
    def is_causal(self) -> bool:
        return getattr(self.net.config, "causal", True)


def load_text_model(name: str, models_dir: Path | None = None) -> TextModel:
    """Load a text model by name. Raises ModelNotFoundError or CheckpointError."""
    if name not in TEXT_MODELS:
        raise ModelNotFoundError(name, list(TEXT_MODELS))
    if name in LLM_MODELS:
        return load_llm(name)
    directory = Path(models_dir) if models_dir is not None else default_models_dir(MODELS_DIR)
    tensors, card = load_checkpoint(directory, name)
    path = directory / f"{name}.safetensors"
    try:
        net = build(card["kind"], card["config"], modality="text")
        vocab = Vocab.from_dict(card["vocab"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(directory / f"{name}.json", f"the card does not describe a text model ({e})") from None
    load_state_into(net, tensors, path)
    net.eval()
    net.requires_grad_(False)  # shared across sessions: inference only
    return TextModel(name=name, vocab=vocab, net=net, card=card)


@functools.cache
def load_llm(name: str = "smollm2") -> TextModel:
    """The real LLM, served by its worker process (core.text.served_llm): the weights live there, started
    once per server; here only the tokenizer and a network that asks the worker (the same contract)."""
    from core.text.served_llm import load_served_llm

    net, vocab, info = load_served_llm()
    vocab.eos_id = None  # plain continuation: a score appends no end token; generation stops at vocab.stop_ids
    card = {
        "name": name,
        "description": LLM_MODELS[name],
        "kind": "llama",
        "config": net.config.to_dict(),
        "num_params": info["num_params"],
        "source": info["source"],
        "format": info["format"],
        "format_description": info["format_description"],
        "bytes_per_token": info["bytes_per_token"],
        "load_seconds": info["load_seconds"],
        "file": info["file"],
        "served_by": "its own worker process (core.workers, core.text.llm_engine)",
    }
    return TextModel(name=name, vocab=vocab, net=net, card=card)


def context_ids(lm: TextModel, text: str) -> list[int]:
    """The start token followed by the encoded text (VocabError for unknown characters)."""
    return [lm.vocab.bos_id] + lm.vocab.encode(text)


def window_start(t: int, block_size: int) -> int:
    """The first token the prediction at position ``t`` reads (it predicts token t + 1; position 0 is
    the start token). The one convention past the context, for scoring and generating alike.

    Up to the block, every prediction reads its whole history. Past it, windows of ``block_size``
    tokens start every half block: predictions t = B .. B + B/2 - 1 read from token B/2, the next
    half block from token B, and so on, so every prediction reads at least B/2 + 1 tokens and the
    start depends on t alone (never on how long the text grows). A key/value cache stays valid for
    half a block at a time.
    """
    if t < block_size:
        return 0
    stride = max(1, block_size // 2)
    return ((t - block_size) // stride + 1) * stride


@torch.no_grad()
def logits_for_context(lm: TextModel, ids: list[int]) -> torch.Tensor:
    """(V,) logits of the next token after ``ids``, reading the window ``window_start`` gives."""
    window = ids[window_start(len(ids) - 1, lm.block_size) :]
    if hasattr(lm.net, "next_logits"):  # the served LLM recomputes the window in its worker; (V,) comes back
        return lm.net.next_logits(window)
    logits, _ = lm.net(torch.tensor([window]))
    return logits[0, -1]


def next_token_logits(lm: TextModel, prefix: str) -> torch.Tensor:
    """(V,) logits of the token after ``prefix`` (the start token is prepended)."""
    return logits_for_context(lm, context_ids(lm, prefix))


# ---------------------------------------------------------------------------------------------
# Scoring: the chain-rule ledger


@dataclass(frozen=True)
class Score:
    tokens: list[str]  # the scored tokens as display text, the end token included (names)
    token_ids: list[int]
    probs: list[float]  # p(x_i | x_<i) for each token
    logprobs: list[float]  # natural log of each probability
    conditional_probs: torch.Tensor  # (n, V) the whole next-token distribution at each position
    context_lengths: list[int]  # how many tokens (start token included) each prediction read

    @property
    def nll(self) -> float:
        """Negative log-likelihood of the whole text in nats: -sum log p(x_i | x_<i)."""
        return -math.fsum(self.logprobs)

    @property
    def bits(self) -> float:
        return self.nll / math.log(2)

    @property
    def perplexity(self) -> float:
        return math.exp(self.nll / len(self.tokens))

    @property
    def joint_log10(self) -> float:
        """log10 of the joint probability (the joint itself underflows for long texts)."""
        return -self.nll / math.log(10)


@torch.no_grad()
def conditional_logprobs(lm: TextModel, ids: list[int]) -> tuple[torch.Tensor, list[int]]:
    """Log p(ids[t+1] | ids[window_start(t)..t]) distributions for every t: ((len(ids)-1, V), context lengths).

    Predictions that share a window come from one forward pass (all of them, up to the block).
    """
    n = len(ids) - 1
    rows: list[torch.Tensor] = []
    ctx: list[int] = []
    t = 0
    while t < n:
        start = window_start(t, lm.block_size)
        end = t + 1  # grow the group while the next prediction reads the same window
        while end < n and window_start(end, lm.block_size) == start:
            end += 1
        logits, _ = lm.net(torch.tensor([ids[start:end]]))  # (1, end-start, V): predictions start .. end-1
        rows.append(torch.log_softmax(logits[0, t - start :].double(), dim=-1))
        ctx.extend(u - start + 1 for u in range(t, end))
        t = end
    return torch.cat(rows, dim=0), ctx


def score(lm: TextModel, text: str, prompt: str | None = None) -> Score:
    """The chain-rule ledger of ``text`` under ``lm`` (an end token is scored for names).

    With ``prompt``, the text is scored as its continuation: p(text | prompt), the prompt's own
    tokens read but not scored (the likelihood classifier's "which prompt explains it better").
    """
    if text == "":
        raise InputError("The text is empty: type at least one character to score.")
    given = context_ids(lm, prompt) if prompt else [lm.vocab.bos_id]
    ids = given + lm.vocab.encode(text)
    if lm.vocab.eos_id is not None:
        ids = ids + [lm.vocab.eos_id]
    logp, ctx = conditional_logprobs(lm, ids)
    skip = len(given) - 1  # predictions of the prompt's own tokens
    logp, ctx = logp[skip:], ctx[skip:]
    targets = torch.tensor(ids[len(given) :])
    chosen = logp[torch.arange(len(targets)), targets]
    return Score(
        tokens=[lm.vocab.token_text(i) for i in ids[len(given) :]],
        token_ids=ids[len(given) :],
        probs=chosen.exp().tolist(),
        logprobs=chosen.tolist(),
        conditional_probs=logp.exp(),
        context_lengths=ctx,
    )


@torch.no_grad()
def target_nlls(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """(N, T) float64 -log p(target | its inputs) of each position of (N, T) inputs/targets; 0 at padding (-1)."""
    out = []
    for i in range(0, len(inputs), batch_size):
        logits, _ = net(inputs[i : i + batch_size])
        y = targets[i : i + batch_size]
        logp = torch.log_softmax(logits.double(), dim=-1)  # (b, T, V)
        picked = logp.gather(-1, y.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # (b, T)
        out.append(torch.where(y >= 0, -picked, 0.0))
    return torch.cat(out)


def heldout_nll(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int = 256) -> float:
    """Mean NLL in nats per token over (N, T) inputs/targets (targets of -1 are padding)."""
    return target_nlls(net, inputs, targets, batch_size).sum().item() / int((targets >= 0).sum())


# ---------------------------------------------------------------------------------------------
# Generation, one step at a time


@dataclass(frozen=True)
class Step:
    token: str  # the sampled token as display text
    token_id: int
    stages: SamplingStages | None  # the distribution it was drawn from, stage by stage (None once dropped)
    logprob: float  # log p(token | context) under the raw (untempered, untruncated) distribution
    elapsed_s: float  # wall time of this step: forward pass plus sampling
    position: int  # index of this token in the sequence (the start token is position 0)
    is_end: bool  # the end-of-name token: generation stops here


@torch.no_grad()
def cached_logits(lm: TextModel, ids: list[int], cache: KVCache) -> torch.Tensor:
    """(V,) next-token logits after ``ids`` using ``cache``; exactly what logits_for_context gives.

    The cache holds the keys and values of the window's tokens so far. While the window's start
    (``window_start``) stays put, only the new token is run; when it moves on (every half block,
    past the block size) every position changes, and the window is recomputed once.
    """
    start = window_start(len(ids) - 1, lm.block_size)
    if hasattr(lm.net, "next_logits"):  # the served LLM: its worker feeds what the window adds to the cached ids
        return lm.net.next_logits(ids[start:], cache)
    if cache.length != len(ids) - 1 - start:
        cache.clear()  # the window moved on: cached keys were computed at other positions
    new = ids[start + cache.length :]
    out = lm.net.forward_detailed(torch.tensor([new]), cache=cache)
    return out.logits[0, -1]


def seeded_generator(seed: int) -> torch.Generator:
    """A fresh ``torch.Generator`` for ``seed`` (InputError outside 0..MAX_SEED)."""
    return torch.Generator().manual_seed(check_seed(seed))


def sample_step(
    lm: TextModel,
    ids: list[int],
    generator: torch.Generator,
    settings: SamplingSettings = DEFAULT_SETTINGS,
    cache=None,
) -> Step:
    """Draw the token after ``ids`` (start token included) under ``settings``. Pure but for ``generator`` and ``cache``.

    ``settings`` is every knob at once (temperature, top-k/p, min-p, typical, penalties over the text in
    ``ids``, the order): the one way into every sampling function.
    """
    t0 = time.perf_counter()
    logits = cached_logits(lm, ids, cache) if cache is not None else logits_for_context(lm, ids)
    stages = settings.stages(logits, ids[1:])  # penalties read the text, not the start token (names: also the end)
    token_id = sample_token(stages.final, generator)
    return Step(
        token=lm.vocab.token_text(token_id),
        token_id=token_id,
        stages=stages,
        logprob=math.log(float(stages.raw[token_id])) if stages.raw[token_id] > 0 else -math.inf,
        elapsed_s=time.perf_counter() - t0,
        position=len(ids),
        is_end=token_id in lm.vocab.stop_ids,
    )


def check_predictable(lm: TextModel, token_id) -> int:
    """``token_id`` if the model can emit it (InputError in words otherwise: outside the vocabulary, or read-only)."""
    if type(token_id) is not int or token_id not in range(lm.vocab.size) or token_id in lm.vocab.input_only_ids:
        raise InputError(
            f"Token id {token_id!r} cannot be forced: the model predicts only the ids 0..{lm.vocab.size - 1}"
            + (f" except the input-only {list(lm.vocab.input_only_ids)}." if lm.vocab.input_only_ids else ".")
        )
    return token_id


def generate(
    lm: TextModel,
    prompt: str | list[int],
    max_new_tokens: int,
    settings: SamplingSettings = DEFAULT_SETTINGS,
    seed: int = 0,
    use_cache: bool = True,
    first: int | None = None,
) -> Iterator[Step]:
    """Yield one Step per generated token under ``settings``; stops at the end token or after max_new_tokens.

    Randomness comes only from a ``torch.Generator`` seeded with ``seed``, so the same arguments
    give the same tokens, with or without the cache, whatever other threads do meanwhile.
    A model with nothing to cache (the leaky one) always recomputes.

    ``prompt`` may also be context ids (the start token first), for a text drawn token by token that its
    decoded string would not tokenize back to. ``first`` forces the first token: it is drawn as usual (the
    generator's stream moves on exactly as without ``first``) and then replaced, so every later token is drawn
    with the same random numbers as in the run without it.
    """
    if not isinstance(settings, SamplingSettings):
        raise TypeError(f"settings must be a SamplingSettings, got {settings!r}")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise InputError(f"max_new_tokens must be a whole number >= 0, got {max_new_tokens!r}")
    if first is not None:
        check_predictable(lm, first)
    ids = list(prompt) if isinstance(prompt, list) else context_ids(lm, prompt)
    generator = seeded_generator(seed)
    cache = lm.net.new_cache() if use_cache and lm.net.supports_cache else None
    for _ in range(max_new_tokens):
        step = sample_step(lm, ids, generator, settings, cache)
        if first is not None:  # the draw was made; its token is replaced by the forced one
            p = float(step.stages.raw[first])
            step = replace(
                step,
                token=lm.vocab.token_text(first),
                token_id=first,
                logprob=math.log(p) if p > 0 else -math.inf,
                is_end=first in lm.vocab.stop_ids,
            )
            first = None
        yield step
        ids.append(step.token_id)
        if step.is_end:
            return
