"""The real LLM's engine (``core.text.llm_engine``, what its worker runs): decoding throughput with
1 to 16 sessions batched, beside the in-process path, and the memory-bandwidth bound; then the
worker process itself: its first answer, its memory, and its restart after being killed.

    python -m benchmarks.llm_serving
    python -m benchmarks.llm_serving --update BENCHMARKS.md   # rewrite its section there (~2 min)

All in one process at one torch thread (the worker's default, ``CHAIN_RULE_LAB_THREADS``), greedy
decoding of ``NEW_TOKENS`` tokens after a ``PROMPT_TOKENS``-token prompt per session, prompts
fed before the clock starts:

* **in-process**: the network stepped with its own key/value cache, as the web process did before
  the worker (one session);
* **engine, K sessions**: K sessions' "next" requests submitted together and answered by
  ``LLMEngine.step`` (one decoding pass for all K), each session's whole window sent each time as
  the web process sends it. Session 0's tokens must equal the in-process tokens.
* **the bound**: a decoding pass reads every weight once, so one session cannot beat
  (memory bandwidth) / (bytes of the weights). Bandwidth: a 512 MB array copied (read + write).
* **the worker** (``core.text.served_llm``, as the server uses it): seconds from the first request
  to its answer (the process spawned and the weights loaded), the worker's resident memory, and
  seconds from a SIGKILL of the worker to the next request answered by a new one.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks import common
from benchmarks.common import md_table

USAGE_END = "(~2 min)\n"  # the docstring's usage block ends here; the rest describes the section
SECTION = "## 10. The real LLM's worker process: batching, memory, restart"

PROMPT_TOKENS = 32
NEW_TOKENS = 48
STREAMS = (1, 4, 16)


def memory_bandwidth_gb_s(mb: int = 512, repeats: int = 5) -> float:
    """Bytes moved per second by one core copying ``mb`` MB (read + write counted)."""
    a = np.ones(mb * 2**20 // 8)
    b = np.empty_like(a)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(b, a)
        times.append(time.perf_counter() - t0)
    return 2 * a.nbytes / min(times) / 1e9


def weight_bytes(net: torch.nn.Module) -> int:
    """Bytes of every parameter and buffer, in the format served (4-bit layers as their packed bytes)."""
    seen, total = set(), 0
    for t in [*net.parameters(), *net.buffers()]:
        if t.data_ptr() not in seen:
            seen.add(t.data_ptr())
            total += t.numel() * t.element_size()
    return total


def _prompts(vocab_size: int, k: int) -> list[list[int]]:
    g = torch.Generator().manual_seed(0)
    return [torch.randint(100, vocab_size, (PROMPT_TOKENS,), generator=g).tolist() for _ in range(k)]


@torch.inference_mode()
def in_process(net, prompt: list[int]) -> tuple[float, list[int]]:
    """Tokens per second of one session stepping the network with its own cache; and its tokens."""
    cache = net.new_cache()
    logits = net.forward_detailed(torch.tensor([prompt]), cache=cache).logits[0, -1]
    tokens = []
    t0 = time.perf_counter()
    for _ in range(NEW_TOKENS):
        tokens.append(int(logits.argmax()))
        logits = net.forward_detailed(torch.tensor([[tokens[-1]]]), cache=cache).logits[0, -1]
    return NEW_TOKENS / (time.perf_counter() - t0), tokens


def _answer(engine, asked: dict[int, int]) -> dict[int, np.ndarray]:
    """Step the engine until every call in ``asked`` (call id -> session) is answered."""
    got = {}
    while len(got) < len(asked):
        for call_id, kind, value in engine.step():
            if kind != "done":
                raise RuntimeError(f"engine replied {kind}: {value}")
            got[asked[call_id]] = value
    return got


def engine_streams(engine, prompts: list[list[int]]) -> tuple[float, list[list[int]], float]:
    """K sessions decoding together: (tokens per second in all, each session's tokens, mean batch)."""
    windows = [list(p) for p in prompts]
    ids = iter(range(10**9))
    asked = {}
    for s, w in enumerate(windows):
        call = next(ids)
        asked[call] = s
        engine.submit(call, "next", (s + 1, w))
    logits = _answer(engine, asked)  # the prompts, fed before the clock starts
    passes0, rows0 = engine.counts["passes"], engine.counts["batched_rows"]
    t0 = time.perf_counter()
    for _ in range(NEW_TOKENS):
        asked = {}
        for s, w in enumerate(windows):
            w.append(int(logits[s].argmax()))
            call = next(ids)
            asked[call] = s
            engine.submit(call, "next", (s + 1, w))
        logits = _answer(engine, asked)
    seconds = time.perf_counter() - t0
    passes = engine.counts["passes"] - passes0
    mean_batch = (engine.counts["batched_rows"] - rows0) / max(passes, 1)
    for s in range(len(windows)):
        engine.note("free", s + 1)
    return len(windows) * NEW_TOKENS / seconds, [w[PROMPT_TOKENS:] for w in windows], mean_batch


def run() -> tuple[list[list[str]], list[list[str]]]:
    """(table rows, judged target rows [what, target, measured, met])."""
    from core.text.gguf_llm import load_smollm2
    from core.text.llm_engine import LLMEngine

    torch.set_num_threads(1)
    net, _, info = load_smollm2("q4")
    engine = LLMEngine(net, info)
    prompts = _prompts(net.config.vocab_size, max(STREAMS))
    runs = [in_process(net, prompts[0]) for _ in range(3)]
    alone, reference = statistics.median(r[0] for r in runs), runs[0][1]
    rows, rates = [["in-process, 1 session (the path before the worker)", f"{alone:.1f}", f"{alone:.1f}", "1", "–"]], {}
    for k in STREAMS:
        rate, tokens, batch = engine_streams(engine, prompts[:k])
        rates[k] = rate
        same = "yes" if tokens[0] == reference else "**no**"
        rows.append(
            [f"engine, {k} session{'s' * (k > 1)} batched", f"{rate:.1f}", f"{rate / k:.1f}", f"{batch:.1f}", same]
        )
        print(rows[-1], flush=True)
    bandwidth, weights = memory_bandwidth_gb_s(), weight_bytes(net)
    bound = bandwidth * 1e9 / weights
    rows.append(["bound for 1 session: bandwidth ÷ weight bytes", f"{bound:.0f}", "", "", ""])
    table = md_table(["", "tokens/s in all", "per session", "sessions per pass", "session 0 = in-process tokens"], rows)
    note = (
        f"\n\nWeights as served: {weights / 1e6:.0f} MB; one core copies {bandwidth:.1f} GB/s, so one session "
        f"reading every weight per token is bounded by {bound:.0f} tokens/s. One thread, "
        f"{PROMPT_TOKENS}-token prompts, {NEW_TOKENS} tokens each."
    )
    targets = [
        [
            "LLM engine: 16 sessions' tokens/s ÷ 1 session's",
            "≥ 2.5×",
            f"{rates[16] / rates[1]:.1f}×",
            rates[16] >= 2.5 * rates[1],
        ],
        ["LLM engine, 1 session ÷ in-process path", "≥ 0.9×", f"{rates[1] / alone:.2f}×", rates[1] >= 0.9 * alone],
        [
            "LLM engine: batched tokens equal the in-process tokens",
            "yes",
            "yes" if all(r[4] == "yes" for r in rows[1:-1]) else "no",
            all(r[4] == "yes" for r in rows[1:-1]),
        ],
    ]
    return table + note, targets


def worker_restart() -> tuple[str, list[list]]:
    """The worker as the server uses it: first answer, memory, answer after a SIGKILL (text, targets)."""
    import psutil

    from core.text.served_llm import llm_worker, load_served_llm

    t0 = time.perf_counter()
    net, _, _ = load_served_llm()
    window = _prompts(net.config.vocab_size, 1)[0]
    net.next_logits(window)
    first = time.perf_counter() - t0
    worker = llm_worker()
    pid = worker.pid
    rss = psutil.Process(pid).memory_info().rss / 2**20
    os.kill(pid, signal.SIGKILL)
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        time.sleep(0.01)  # dead (a zombie until its parent notices): the clock starts at the death
    t0 = time.perf_counter()
    attempts = 0
    while True:  # the request that meets the dead worker may fail in words; the next one starts a new worker
        attempts += 1
        try:
            net.next_logits(window)
            break
        except Exception:
            if attempts >= 3:
                raise
    restart = time.perf_counter() - t0
    new_pid = worker.pid
    assert new_pid != pid, "the answer came from the killed worker"
    worker.stop()
    text = (
        f"First request to its answer (worker spawned, weights loaded): {first:.1f} s. Worker resident memory "
        f"after loading: {rss:.0f} MB. After SIGKILL of the worker (pid {pid}), the next request was answered by "
        f"a new worker (pid {new_pid}) {restart:.1f} s later"
        + (
            " (the first request went out while the kernel was still releasing the dead worker's socket, was lost "
            "with it and failed in one sentence; the next was answered)."
            if attempts > 1
            else "."
        )
    )
    targets = [["LLM worker killed: next request answered", "≤ 15 s", f"{restart:.1f} s", restart <= 15]]
    return text, targets


def section() -> tuple[str, list[list]]:
    t0 = time.time()
    table, targets = run()
    text, more = worker_restart()
    targets += more
    body = (
        f"{SECTION}\n\n`python -m benchmarks.llm_serving` ({time.time() - t0:.0f} s).\n\n{__doc__.split(USAGE_END, 1)[1].strip()}\n"
        f"{table}\n\n{text}\n\n"
        + md_table(["what", "target", "measured", ""], [[*t[:3], "met" if t[3] else "**missed**"] for t in targets])
        + "\n"
    )
    return body, targets


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--update", type=Path, help="rewrite this section of the markdown file")
    args = p.parse_args(argv)
    body, targets = section()
    print(body)
    if args.update:
        args.update.write_text(common.replace_section(args.update.read_text(), SECTION, body))
    return 0 if all(t[3] for t in targets) else 1


if __name__ == "__main__":
    raise SystemExit(main())
