"""SmolLM2-135M served by our own Llama: speed, memory and agreement with fp32, side by side in one run.

* load time and resident memory of the served (q4) model, each in a fresh process;
* cached generation at a context of 512 tokens, served format and fp32, against transformers'
  ``generate`` on the same file (greedy, same prompt, same number of tokens, its own cache);
* the KV cache: one step with the cache vs recomputing the whole 512-token context, and the
  cached step time at 64 vs 512 tokens of context (roughly flat);
* agreement of the served format with fp32 on thousands of held-out Shakespeare tokens: top-1
  agreement and mean KL(fp32 || served) per token.

Speed is measured with torch.set_num_threads(2) (the machine's two cores); numbers are medians.
``python -m benchmarks.llm`` prints the rows. Needs the dev requirements (transformers) for the
reference row; without them that row is skipped.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
HELDOUT = ROOT / "assets" / "data" / "shakespeare_heldout.txt"
CONTEXT = 512  # tokens of context for the speed rows
NEW_TOKENS = 64  # tokens generated per speed measurement
AGREEMENT_TOKENS = 4096  # held-out tokens compared between fp32 and the served format
WINDOW = 1024  # scored in windows of this many tokens (each starts with the start token)


def _fresh_process(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return eval(out.stdout.strip().splitlines()[-1])  # a dict literal printed by the child


def load_and_rss() -> dict:
    """Seconds to load the served model and its resident memory, in a fresh process."""
    code = (
        "import time, torch; torch.set_num_threads(2); t = time.perf_counter()\n"
        "from core.text.gguf_llm import load_smollm2\n"
        "net, vocab, info = load_smollm2('q4'); s = time.perf_counter() - t\n"
        "import re; rss = int(re.search(r'VmRSS:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) / 1024\n"
        "print({'load_s': s, 'rss_mb': rss})"
    )
    base = _fresh_process(
        "import torch, re, core.models.llama, core.text.gguf_llm\n"
        "print({'rss_mb': int(re.search(r'VmRSS:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) / 1024})"
    )
    r = _fresh_process(code)
    r["rss_base_mb"] = base["rss_mb"]
    return r


def _prompt_ids(vocab) -> list[int]:
    return [vocab.bos_id] + vocab.encode(HELDOUT.read_text())[: CONTEXT - 1]


@torch.no_grad()
def cached_speed(net, ids: list[int], n: int = NEW_TOKENS) -> tuple[float, list[int]]:
    """Tokens per second of greedy cached decoding after ``ids`` (prefill not counted), and the tokens."""
    cache = net.new_cache()
    logits = net.forward_detailed(torch.tensor([ids]), cache=cache).logits[0, -1]
    tokens, times = [], []
    for _ in range(n):
        nxt = int(logits.argmax())
        tokens.append(nxt)
        t0 = time.perf_counter()
        logits = net.forward_detailed(torch.tensor([[nxt]]), cache=cache).logits[0, -1]
        times.append(time.perf_counter() - t0)
    return 1.0 / statistics.median(times), tokens


@torch.no_grad()
def uncached_step(net, ids: list[int], repeats: int = 3) -> float:
    """Seconds of one step that recomputes the whole context (no cache)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        net(torch.tensor([ids]))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@torch.no_grad()
def step_time_at(net, ids: list[int], context: int, n: int = 32) -> float:
    cache = net.new_cache()
    net.forward_detailed(torch.tensor([ids[:context]]), cache=cache)
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        net.forward_detailed(torch.tensor([[ids[context + i]]]), cache=cache)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def transformers_speed(ids: list[int], n: int = NEW_TOKENS) -> tuple[float, list[int]] | None:
    """transformers' greedy ``generate`` with its cache on the same file and prompt (prefill excluded)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        from transformers import AutoModelForCausalLM
    except ImportError:
        return None
    from core.text.gguf_llm import GGUF_NAME, gguf_path

    path = gguf_path()
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=GGUF_NAME, dtype=torch.float32).eval()
    x = torch.tensor([ids])
    kw = dict(do_sample=False, use_cache=True, pad_token_id=2, eos_token_id=None)
    with torch.no_grad():
        model.generate(x, max_new_tokens=2, min_new_tokens=2, **kw)  # warm up
        t0 = time.perf_counter()
        model.generate(x, max_new_tokens=1, min_new_tokens=1, **kw)
        prefill = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = model.generate(x, max_new_tokens=n + 1, min_new_tokens=n + 1, **kw)
        total = time.perf_counter() - t0
    return n / (total - prefill), out[0, len(ids) : len(ids) + n].tolist()


@torch.no_grad()
def agreement(ref_net, served_net, vocab, n_tokens: int = AGREEMENT_TOKENS) -> tuple[float, float, int]:
    """(top-1 agreement, mean KL(fp32 || served) in nats per token, positions compared) on held-out text."""
    ids = vocab.encode(HELDOUT.read_text())[:n_tokens]
    agree, kl, count = 0, 0.0, 0
    for i in range(0, len(ids), WINDOW - 1):
        window = torch.tensor([[vocab.bos_id] + ids[i : i + WINDOW - 1]])
        p = torch.log_softmax(ref_net(window)[0][0].double(), dim=-1)  # (T, V)
        q = torch.log_softmax(served_net(window)[0][0].double(), dim=-1)
        agree += int((p.argmax(-1) == q.argmax(-1)).sum())
        kl += float((p.exp() * (p - q)).sum())
        count += p.size(0)
    return agree / count, kl / count, count


def run() -> list[dict]:
    from core.text.gguf_llm import load_smollm2

    torch.set_num_threads(2)
    rows = []
    lr = load_and_rss()
    rows.append(
        {"name": "load time, served model (fresh process)", "value": lr["load_s"], "unit": "s", "target": "≤ 15"}
    )
    rows.append(
        {
            "name": "resident memory after loading (fresh process)",
            "value": lr["rss_mb"],
            "unit": "MB",
            "target": "≤ 800",
        }
    )
    rows.append({"name": "  of which python + torch + imports", "value": lr["rss_base_mb"], "unit": "MB", "target": ""})

    served, vocab, info = load_smollm2("q4")
    ids = _prompt_ids(vocab)
    speed, served_tokens = cached_speed(served, ids)
    rows.append(
        {
            "name": f"served ({info['format']}) cached tokens/s at {CONTEXT} context",
            "value": speed,
            "unit": "tokens/s",
            "target": "≥ 40",
        }
    )
    torch.set_num_threads(1)  # what the app's server uses per request (pages/common.configure_torch_threads)
    speed_1, _ = cached_speed(served, ids)
    torch.set_num_threads(2)
    rows.append(
        {
            "name": f"served ({info['format']}) cached tokens/s at {CONTEXT} context, 1 thread (the server's setting)",
            "value": speed_1,
            "unit": "tokens/s",
            "target": "",
        }
    )
    hf = transformers_speed(ids)
    if hf is not None:
        rows.append(
            {
                "name": "transformers generate (fp32, its cache) tokens/s",
                "value": hf[0],
                "unit": "tokens/s",
                "target": "",
            }
        )
        rows.append({"name": "served / transformers", "value": speed / hf[0], "unit": "x", "target": "≥ 3"})
    ref, _, ref_info = load_smollm2("fp32")
    ref_speed, ref_tokens = cached_speed(ref, ids)
    rows.append(
        {"name": "ours fp32 cached tokens/s (reference format)", "value": ref_speed, "unit": "tokens/s", "target": ""}
    )
    if hf is not None:
        same = sum(a == b for a, b in zip(ref_tokens, hf[1], strict=True))
        rows.append(
            {
                "name": f"greedy tokens equal, ours fp32 vs transformers (of {NEW_TOKENS})",
                "value": same,
                "unit": "tokens",
                "target": "",
            }
        )
    same = sum(a == b for a, b in zip(ref_tokens, served_tokens, strict=True))
    rows.append(
        {
            "name": f"greedy tokens equal, served vs fp32 (of {NEW_TOKENS})",
            "value": same,
            "unit": "tokens",
            "target": "",
        }
    )

    t_cached = 1.0 / speed
    t_full = uncached_step(served, ids)
    rows.append(
        {
            "name": f"served step recomputing {CONTEXT} tokens (no cache)",
            "value": t_full * 1e3,
            "unit": "ms",
            "target": "",
        }
    )
    rows.append(
        {"name": f"KV-cache speed-up at {CONTEXT} context", "value": t_full / t_cached, "unit": "x", "target": "≥ 5"}
    )
    t64, t512 = step_time_at(served, ids + served_tokens, 64), step_time_at(served, ids + served_tokens, CONTEXT)
    rows.append({"name": "cached step at 64 context", "value": t64 * 1e3, "unit": "ms", "target": ""})
    rows.append(
        {"name": f"cached step at {CONTEXT} context", "value": t512 * 1e3, "unit": "ms", "target": "roughly flat"}
    )
    rows.append(
        {
            "name": "weight bytes read per token, served",
            "value": info["bytes_per_token"] / 1e6,
            "unit": "MB",
            "target": "",
        }
    )
    rows.append(
        {
            "name": "weight bytes read per token, fp32",
            "value": ref_info["bytes_per_token"] / 1e6,
            "unit": "MB",
            "target": "",
        }
    )

    top1, kl, count = agreement(ref, served, vocab)
    rows.append(
        {
            "name": f"top-1 agreement served vs fp32 ({count} held-out positions)",
            "value": 100 * top1,
            "unit": "%",
            "target": "≥ 98",
        }
    )
    rows.append({"name": "mean KL(fp32 || served)", "value": kl, "unit": "nats/token", "target": "≤ 0.01"})
    return rows


def _met(value: float, target: str) -> bool | None:
    """A row's verdict from its target text ("≥ 40", "≤ 0.01"); None where there is no number to meet."""
    for sign, ok in (("≥", lambda a, b: a >= b), ("≤", lambda a, b: a <= b)):
        if target.startswith(sign):
            return ok(round(value, 4), float(target[1:].strip()))
    return None


def report(rows: list[dict]) -> str:
    """The rows as a markdown table, each target judged."""
    lines = ["| figure | value | unit | target | |", "|---|---|---|---|---|"]
    for r in rows:
        met = _met(r["value"], r["target"])
        verdict = "" if met is None else ("met" if met else "**missed**")
        lines.append(f"| {r['name'].strip()} | {r['value']:.4g} | {r['unit']} | {r['target']} | {verdict} |")
    return "\n".join(lines) + "\n"


def summary(rows: list[dict]) -> list[list[str]]:
    """Target rows for BENCHMARKS.md's summary table."""
    out = []
    for r in rows:
        met = _met(r["value"], r["target"])
        if met is not None:
            out.append(
                [
                    f"SmolLM2: {r['name'].strip()}",
                    f"{r['target']} {r['unit']}",
                    f"{r['value']:.4g}",
                    "met" if met else "**missed**",
                ]
            )
    return out


if __name__ == "__main__":
    print(report(run()))
