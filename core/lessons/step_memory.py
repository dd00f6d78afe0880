"""What one decoding step carries to the next, per family: the memory behind "sampling cost".

Decoding token by token, each network keeps something from the steps before so as not to redo them:
the transformer keeps every earlier token's keys and values (a KV cache that grows with the text), the
GRU one hidden state (fixed size), the MLP the last few token ids (its window), the WaveNet a queue of
past inputs per layer (fixed size). ``carried_state`` feeds the same tokens through a network one at a
time and records, at each position, the bytes its state holds and the step's wall time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from core.errors import InputError
from core.text.language_model import TextModel

STEP_REPEATS = 5  # timings per position; the median is kept (a shared CPU is noisy)


@dataclass(frozen=True)
class CarriedState:
    model: str
    positions: list[int]  # position of the token just read (the start token is 0)
    nbytes: list[int]  # bytes the state holds after reading it
    step_ms: list[float]  # median milliseconds of that step

    @property
    def grows(self) -> bool:
        return self.nbytes[-1] > self.nbytes[0]


@torch.no_grad()
def carried_state(lm: TextModel, ids: list[int], repeats: int = STEP_REPEATS) -> CarriedState:
    """Read ``ids`` (start token first) one token at a time with ``lm``'s decoding state."""
    if not lm.net.supports_cache:
        raise InputError(f"{lm.name} keeps no state between steps (it reads the future): nothing to measure.")
    if not 1 <= len(ids) <= lm.block_size:
        raise InputError(f"Between 1 and {lm.block_size} tokens fit {lm.name}'s context; got {len(ids)}.")
    times: list[list[float]] = [[] for _ in ids]
    nbytes: list[int] = []
    for r in range(repeats):
        cache = lm.net.new_cache()
        for i, token in enumerate(ids):
            t0 = time.perf_counter()
            lm.net.forward_detailed(torch.tensor([[token]]), cache=cache)
            times[i].append((time.perf_counter() - t0) * 1000)
            if r == 0:
                nbytes.append(cache.nbytes)
    medians = [sorted(t)[len(t) // 2] for t in times]
    return CarriedState(lm.name, list(range(len(ids))), nbytes, medians)
