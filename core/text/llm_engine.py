"""The real LLM's inference engine: what runs inside its worker process (``core.workers``).

The web process sends token ids and receives logits (``core.text.served_llm`` is its side). The
engine owns the network (SmolLM2 in its served 4-bit format) and every session's key/value cache.
Requests:

* ``next`` (handle, window): the next-token logits (V,) after the window of token ids. With a
  handle, the session's own cache (its *slot*) is reused for the longest prefix it shares with the
  window, as llama.cpp's server and vLLM reuse a prompt's cache: a decoding step feeds one token,
  a rewind or an edit feeds only what changed. Without a handle the window is recomputed from the
  start: the lesson's "without the cache".
* ``logits`` (ids (B, T), need_weights): every position's logits, and each layer's attention
  weights if asked (the ledger, the attention page, the causality check).
* ``describe``: the card's numbers; ``stats``: counters for tests and benchmarks; note ``free``
  (handle): a session ended, its slot goes.

**Continuous batching.** Each ``step`` runs one decoding pass for every request that has exactly
one token left to feed, whatever the sessions' lengths (``RaggedKVCaches``): a request that
arrives while a pass runs joins the next one. Then it feeds one chunk (``PREFILL_CHUNK`` tokens)
of the oldest request with more to feed (a prompt, a ledger), so a long request delays the
auto-playing sessions by one chunk at a time, never by its whole length. A session's result does
not depend on who shares its batch: attention runs in float64 (``core.models.llama.attend``),
so the rows of a batch, the chunks of a prompt and one whole pass give the same numbers.

**Memory.** A slot's cache grows with its text, up to the block size. All slots together stay
under a budget (``CHAIN_RULE_LAB_LLM_CACHE_MB``, default 256): past it, the least recently used
slot is evicted. Its session notices nothing but time: every ``next`` carries the whole window, so
an evicted slot is rebuilt from the ids (slower, never wrong). A slot unused for ``IDLE_S`` is freed.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch

from core.errors import InputError
from core.models.kv_cache import KVCache, RaggedKVCaches
from core.workers import error_reply

CACHE_MB_ENV = "CHAIN_RULE_LAB_LLM_CACHE_MB"  # the budget of every session's key/value cache together
DEFAULT_CACHE_MB = 256
PREFILL_CHUNK = 16  # tokens of a long request fed per step, between two decoding passes
MAX_BATCH = 32  # sequences in one decoding pass
IDLE_S = 600.0  # a slot unused this long is freed (its tab was closed)


@dataclass
class Slot:
    """One session's key/value cache and the token ids whose keys and values it holds."""

    cache: KVCache
    ids: list[int] = field(default_factory=list)
    used: float = field(default_factory=time.monotonic)


@dataclass
class Request:
    """A request being computed: the tokens still to feed, into a slot's cache or a temporary one."""

    id: int
    op: str  # "next" or "logits"
    cache: KVCache
    todo: np.ndarray  # (B, n) token ids not fed yet
    handle: int | None = None  # the slot's, for "next" with a cache
    need_weights: bool = False
    logits: list[np.ndarray] = field(default_factory=list)  # "logits": (B, chunk, V) per chunk fed

    @property
    def decodes(self) -> bool:
        """One token left of a single sequence: it can join a decoding batch."""
        return self.op == "next" and self.todo.shape[1] == 1


class LLMEngine:
    """Slots, a queue of requests, and ``step``: one batched decoding pass and one prefill chunk."""

    def __init__(self, net=None, info: dict | None = None, budget_bytes: int | None = None):
        if net is None:
            from core.text.gguf_llm import load_smollm2

            net, _, info = load_smollm2("q4")
        self.net, self.info = net, dict(info or {})
        self.config = net.config
        mb = int(os.environ.get(CACHE_MB_ENV, DEFAULT_CACHE_MB))
        self.budget_bytes = budget_bytes if budget_bytes is not None else mb * 2**20
        self.slots: OrderedDict[int, Slot] = OrderedDict()  # least recently used first
        self.requests: dict[int, Request] = {}  # in arrival order
        self.outbox: list = []
        self.evicted: set[int] = set()  # handles whose slot was evicted (their next request rebuilds it)
        self.counts = dict(passes=0, batched_rows=0, largest_batch=0, chunks=0, evicted=0, rebuilt=0, cancelled=0)

    # -- requests in

    def submit(self, call_id: int, op: str, payload) -> None:
        try:
            if op == "describe":
                self.outbox.append((call_id, "done", self.info | {"config": self.config.to_dict()}))
            elif op == "stats":
                self.outbox.append((call_id, "done", self.stats()))
            elif op == "next":
                handle, window = payload
                self._start_next(call_id, handle, self._checked(np.asarray(window, dtype=np.int64)[None]))
            elif op == "logits":
                ids, need_weights = payload
                ids = self._checked(np.asarray(ids, dtype=np.int64))
                cache = KVCache(self.config.n_layer, max_length=self.config.block_size)
                self.requests[call_id] = Request(call_id, "logits", cache, ids, need_weights=need_weights)
            else:
                raise ValueError(f"unknown request {op!r}")
        except Exception as e:
            self.outbox.append(error_reply(call_id, e))

    def _checked(self, ids: np.ndarray) -> np.ndarray:
        if ids.ndim != 2 or ids.shape[1] < 1 or ids.shape[1] > self.config.block_size:
            raise InputError(f"The model reads 1 to {self.config.block_size} tokens at once, not {ids.shape[-1]}.")
        if ids.min() < 0 or ids.max() >= self.config.vocab_size:
            raise InputError(f"Token ids must lie in 0..{self.config.vocab_size - 1}.")
        return ids

    def _start_next(self, call_id: int, handle: int | None, window: np.ndarray) -> None:
        ids = window[0].tolist()
        if handle is None:  # recompute the whole window: no cache is kept
            cache = KVCache(self.config.n_layer, max_length=self.config.block_size)
            self.requests[call_id] = Request(call_id, "next", cache, window)
            return
        for other in [r for r in self.requests.values() if r.handle == handle]:
            self.cancel(other.id)  # the session moved on: its older request is not wanted
        slot = self.slots.pop(handle, None)
        if slot is None:  # new, or evicted: rebuilt from the ids
            slot = Slot(KVCache(self.config.n_layer, max_length=self.config.block_size))
            if handle in self.evicted:
                self.evicted.discard(handle)
                self.counts["rebuilt"] += 1
        self.slots[handle] = slot  # most recently used
        slot.used = time.monotonic()
        common = 0
        for a, b in zip(slot.ids, ids[:-1], strict=False):  # at least the last token is fed: it gives the logits
            if a != b:
                break
            common += 1
        if common < len(slot.ids):
            slot.cache.truncate(common)
            del slot.ids[common:]
        self.requests[call_id] = Request(call_id, "next", slot.cache, window[:, common:], handle=handle)

    def cancel(self, call_id: int) -> None:
        """Drop a request: nothing more is computed for it. A slot keeps what was fed so far."""
        if self.requests.pop(call_id, None) is not None:
            self.counts["cancelled"] += 1

    def control(self, call_id: int, what: str) -> None:
        pass

    def note(self, op: str, payload) -> None:
        if op == "free":
            self.slots.pop(payload, None)
            self.evicted.discard(payload)
            for r in [r for r in self.requests.values() if r.handle == payload]:
                self.cancel(r.id)

    # -- work

    def busy(self) -> bool:
        return bool(self.outbox or self.requests)

    @torch.inference_mode()
    def step(self) -> list:
        """One decoding pass for every request one token from its answer, then one chunk of the oldest other."""
        out, self.outbox = self.outbox, []
        decoding = [r for r in self.requests.values() if r.decodes][:MAX_BATCH]
        if decoding:
            out += self._decode(decoding)
        waiting = next((r for r in self.requests.values() if not r.decodes), None)
        if waiting is not None:
            out += self._feed_chunk(waiting)
        self._keep_budget()
        return out

    def _decode(self, batch: list[Request]) -> list:
        """Each request's last token, all in one pass; each row at its own position, with its own cache."""
        idx = torch.from_numpy(np.concatenate([r.todo for r in batch]))  # (B, 1)
        caches = RaggedKVCaches([r.cache for r in batch])
        try:
            logits = self.net.forward_detailed(idx, cache=caches, last_only=True).logits[:, -1]  # (B, V)
        except Exception as e:  # a bug: the caches may be half-appended, so their slots go too
            for r in batch:
                del self.requests[r.id]
                self.slots.pop(r.handle, None)
            return [error_reply(r.id, e) for r in batch]
        self.counts["passes"] += 1
        self.counts["batched_rows"] += len(batch)
        self.counts["largest_batch"] = max(self.counts["largest_batch"], len(batch))
        replies = []
        for r, row in zip(batch, logits, strict=True):
            self._fed(r, r.todo)
            del self.requests[r.id]
            replies.append((r.id, "done", row.numpy().copy()))
        return replies

    def _feed_chunk(self, r: Request) -> list:
        """Feed the next chunk of ``r`` (all of it when attention weights are wanted); reply once it is all fed."""
        try:
            n = r.todo.shape[1] if r.need_weights else PREFILL_CHUNK
            if r.op == "next":
                n = min(n, r.todo.shape[1] - 1)  # the last token joins a decoding batch
            chunk, r.todo = r.todo[:, :n], r.todo[:, n:]
            out = self.net.forward_detailed(
                torch.from_numpy(chunk), cache=r.cache, need_weights=r.need_weights, last_only=r.op == "next"
            )
            self.counts["chunks"] += 1
            self._fed(r, chunk)
            if r.op == "next":
                return []  # its last token decodes in the next step's batch
            r.logits.append(out.logits.numpy())
            if r.todo.shape[1] > 0:
                return []
            del self.requests[r.id]
            attention = np.stack([a.numpy() for a in out.attention]) if r.need_weights else None  # (L, B, nh, T, T)
            return [(r.id, "done", (np.concatenate(r.logits, axis=1), attention))]
        except Exception as e:
            self.requests.pop(r.id, None)
            return [error_reply(r.id, e)]

    def _fed(self, r: Request, chunk: np.ndarray) -> None:
        """Record that ``chunk`` is in the cache (a slot's ids follow its cache)."""
        slot = self.slots.get(r.handle) if r.handle is not None else None
        if slot is not None and slot.cache is r.cache:
            slot.ids.extend(chunk[0].tolist())
            slot.used = time.monotonic()

    # -- memory

    def cache_bytes(self) -> int:
        return sum(slot.cache.capacity_nbytes for slot in self.slots.values())

    def _keep_budget(self) -> None:
        """Evict least recently used slots past the budget (never one a request is using), and idle ones."""
        busy = {r.handle for r in self.requests.values()}
        now = time.monotonic()
        for handle in [h for h, s in self.slots.items() if h not in busy and now - s.used > IDLE_S]:
            del self.slots[handle]
        total = self.cache_bytes()
        for handle in list(self.slots):
            if total <= self.budget_bytes:
                break
            if handle in busy:
                continue
            total -= self.slots.pop(handle).cache.capacity_nbytes
            self.evicted.add(handle)
            self.counts["evicted"] += 1

    def stats(self) -> dict:
        return self.counts | {
            "slots": len(self.slots),
            "slot_tokens": {h: len(s.ids) for h, s in self.slots.items()},
            "cache_bytes": self.cache_bytes(),
            "budget_bytes": self.budget_bytes,
            "requests": len(self.requests),
        }


def llm_service() -> LLMEngine:
    """The worker's factory (``core.workers``): SmolLM2 in its served format, loaded once in the worker."""
    return LLMEngine()
