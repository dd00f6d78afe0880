"""Generation speed with and without the key/value cache, per position, up to and past the block.

Without the cache every step runs the whole context through the network, so a step costs more
the longer the text; with the cache a step runs one token against stored keys and values.
Past the block size both paths read the same windows (core.text.language_model.window_start: a
block's worth that starts every half block); the cache is rebuilt once each time the window moves
on and helps for the rest of that half block.
"""

from __future__ import annotations

from dataclasses import dataclass

import core
from benchmarks.common import Stats, md_table


@dataclass
class GenerationResult:
    model: str
    block_size: int
    positions: list[int]  # absolute position of each generated token (start token = 0)
    cached: list[Stats]  # seconds per step at each position
    uncached: list[Stats]
    same_tokens: bool

    def at(self, position: int) -> tuple[Stats, Stats]:
        i = self.positions.index(position)
        return self.cached[i], self.uncached[i]


def step_times(lm: core.TextModel, n_tokens: int, use_cache: bool, seed: int) -> tuple[list[float], list[int]]:
    steps = list(core.generate(lm, "", n_tokens, seed=seed, use_cache=use_cache))
    return [s.elapsed_s for s in steps], [s.token_id for s in steps]


def measure(lm: core.TextModel, n_tokens: int, repeats: int) -> GenerationResult:
    """Generate ``n_tokens`` ``repeats`` times each way (alternating), same seed: per-position stats."""
    step_times(lm, min(n_tokens, 8), True, 0)  # warm-up
    cached_runs, uncached_runs, same = [], [], True
    for r in range(repeats):
        tc, ids_c = step_times(lm, n_tokens, True, seed=r)
        tu, ids_u = step_times(lm, n_tokens, False, seed=r)
        same &= ids_c == ids_u
        cached_runs.append(tc)
        uncached_runs.append(tu)
    n = min(len(t) for t in cached_runs + uncached_runs)  # names stop at the end token
    return GenerationResult(
        model=lm.name,
        block_size=lm.block_size,
        positions=list(range(1, n + 1)),
        cached=[Stats.of([run[i] for run in cached_runs]) for i in range(n)],
        uncached=[Stats.of([run[i] for run in uncached_runs]) for i in range(n)],
        same_tokens=same,
    )


def report(res: GenerationResult, checkpoints: list[int]) -> tuple[str, dict]:
    """Markdown section and the headline numbers (speed-up at the block size, flatness)."""
    rows = []
    for pos in checkpoints:
        if pos not in res.positions:
            continue
        c, u = res.at(pos)
        rows.append([pos, c.fmt(1000, 2), u.fmt(1000, 2), f"{u.median / c.median:.1f}×"])
    last_in_block = min(res.block_size, res.positions[-1])
    c_first, _ = res.at(res.positions[0])
    c_block, u_block = res.at(last_in_block)
    total_c = sum(s.median for s in res.cached)
    total_u = sum(s.median for s in res.uncached)
    head = {
        "speedup_at_block": u_block.median / c_block.median,
        "cached_flatness": c_block.median / c_first.median,
        "tokens_per_s_cached": len(res.positions) / total_c,
        "tokens_per_s_uncached": len(res.positions) / total_u,
        "same_tokens": res.same_tokens,
    }
    table = md_table(["position", "cached ms/token", "uncached ms/token", "speed-up"], rows)
    text = (
        f"**{res.model}** (block size {res.block_size}, {len(res.positions)} tokens, "
        f"{res.cached[0].n} runs each, medians with min–max): "
        f"{head['tokens_per_s_cached']:.0f} tokens/s with the cache, "
        f"{head['tokens_per_s_uncached']:.0f} tokens/s without; same tokens both ways: "
        f"{'yes' if res.same_tokens else 'NO'}.\n\n{table}\n"
    )
    return text, head
