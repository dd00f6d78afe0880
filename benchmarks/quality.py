"""Model quality: every shipped model's held-out NLL, recomputed from the weights, beside its anchor.

``python -m benchmarks.quality --update BENCHMARKS.md`` re-measures only this (section 6 and its rows of
the Targets table); ``python -m benchmarks.run`` includes it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import core
from benchmarks.common import md_table, replace_section
from core.text.evaluation import HELDOUT_METHOD, measure_heldout_nll

SECTION = "## 6. Model quality: held-out NLL recomputed from the shipped weights"
METHOD_NOTE = (
    "Every text model is measured by one method, the ledger's: each held-out text scored exactly as "
    "`core.score` scores it on the Chain rule page, all tokens pooled. Names: "
    + HELDOUT_METHOD["names"].removeprefix("the ledger's way: ")
    + ". Shakespeare: "
    + HELDOUT_METHOD["text"].removeprefix("the ledger's way: ")
    + ". The leaky model's card keeps its training-style figure (it reads the targets); here it is scored the "
    "ledger's way like the others. Images: the mean −log p of the 500 shipped test digits, nats per image; "
    "the gated model without its label two ways: its learned “no label” embedding, and its ten digit models "
    "averaged by the sum rule. "
    "Trained: the wall time on the model's card (its command, this machine's CPU). Milliseconds per generated "
    "token: `core.generate` from an empty prompt, up to 15 tokens, each family with its own cache or state "
    "(the transformer's key/value cache, the GRU's hidden state, the MLP's and WaveNet's windows), median "
    "over 20 seeds."
)

# What the literature reports in a comparable setting, for the reader to judge ours against.
ANCHORS = {
    "names": "≈ 1.92 nats/char: karpathy/makemore 200K-param transformer on its 32K names",
    "names-bigram": "≈ 2.45 nats/char: makemore's counted bigram",
    "names-reversed": "the same transformer on names written right to left: within 0.03 nats/char of names",
    "names-leaky": "not comparable: it copies every letter from its input; the end token has nothing to copy",
    "names-mlp": "≈ 2.1 nats/char: makemore's MLP (Bengio et al. 2003) on its 32K names",
    "names-gru": "makemore's RNN/GRU on its names (a guide, not a copy: our names list differs)",
    "names-wavenet": "≈ 1.99 nats/char: makemore's WaveNet on its 32K names",
    "names-wavenet-leaky": "not comparable: its centred kernels read the next characters",
    "shakespeare": "1.88 (nanoGPT CPU config, 0.8M params) / 1.47 (nanoGPT GPU config, 10.6M params)",
    "pixelcnn": "81.30 nats/image: PixelCNN (van den Oord et al. 2016), trained on 60,000 images; ours saw 4,500",
    "gated-pixelcnn": "79.20 nats/image: PixelRNN (the best of that paper), 60,000 training images; ours saw 4,500",
}
TARGETS = {
    "names": 1.92,
    "names-bigram": 2.5,
    "names-mlp": 2.10,
    "names-wavenet": 2.00,
    "names-gru": 1.98,
    "shakespeare": 1.55,
    "pixelcnn": 93.0,
    "gated-pixelcnn": 90.0,
    "gated-pixelcnn (given the digit)": 87.0,
}
ORDERING_GAP = 0.03  # names vs names-reversed, nats per character
GATED_MARGIN = 2.0  # the gated model must beat the plain one by this many nats per image


def image_rows() -> list[dict]:
    """Test NLL (nats per image, unconditional) of the image models on the shipped 500 test digits."""
    import torch

    from core.image.mnist import load_test_set
    from core.image.model import IMAGE_MODELS, load_image_model, mixture_nll_per_image, nll_per_image

    digits = load_test_set()
    rows = []
    for name in IMAGE_MODELS:
        try:
            model = load_image_model(name)
        except core.ChainRuleError as e:
            rows.append({"model": name, "error": str(e)})
            continue
        x = torch.from_numpy(digits.images)
        nll = nll_per_image(model.net, x, None).mean().item()
        rows.append(
            {
                "model": name,
                "params": model.net.num_params(),
                "heldout_nll": nll,
                "card_nll": model.card["metrics"]["heldout_nll"],
                "target": TARGETS[name],
                "anchor": ANCHORS[name],
                "unit": "nats/image",
            }
        )
        if name == "gated-pixelcnn":  # without the label by the sum rule, then told which digit it is
            rows.append(
                {
                    "model": name + " (digit summed out)",
                    "params": model.net.num_params(),
                    "heldout_nll": mixture_nll_per_image(model.net, x).mean().item(),
                    "card_nll": model.card["metrics"].get("heldout_nll_mixture"),
                    "target": TARGETS[name],
                    "anchor": "the same network: p(x) = (1/10) Σ_d p(x given d), the label never seen",
                    "unit": "nats/image",
                }
            )
            cond = nll_per_image(model.net, x, torch.from_numpy(digits.labels)).mean().item()
            rows.append(
                {
                    "model": name + " (given the digit)",
                    "params": model.net.num_params(),
                    "heldout_nll": cond,
                    "card_nll": model.card["metrics"]["heldout_nll_conditional"],
                    "target": TARGETS[name + " (given the digit)"],
                    "anchor": ANCHORS[name],
                    "unit": "nats/image",
                }
            )
    return rows


def ms_per_character(lm, seeds: int = 20, tokens: int = 15) -> float:
    """Median over seeds of milliseconds per generated token, each family with its own cache or state."""
    import statistics
    import time

    per = []
    for seed in range(seeds):
        t0 = time.perf_counter()
        n = sum(1 for _ in core.generate(lm, "", tokens, seed=seed))
        per.append((time.perf_counter() - t0) * 1000 / max(n, 1))
    return statistics.median(per)


def quality_rows(names: list[str] | None = None) -> list[dict]:
    rows = []
    for name in names or list(core.text.language_model.TRAINED_MODELS):
        try:
            lm = core.load_text_model(name)
        except core.ChainRuleError as e:
            rows.append({"model": name, "error": str(e)})
            continue
        rows.append(
            {
                "model": name,
                "params": lm.net.num_params(),
                "heldout_nll": measure_heldout_nll(lm),
                "card_nll": lm.card["metrics"]["heldout_nll"],
                "target": TARGETS.get(name),
                "anchor": ANCHORS.get(name, ""),
                "train_min": lm.card.get("wall_time_s", 0) / 60,
                "ms_per_char": ms_per_character(lm),
            }
        )
    return rows


def report(rows: list[dict]) -> str:
    table = []
    for r in rows:
        if "error" in r:
            table.append([r["model"], "–", "unavailable: " + r["error"], "–", "–", "–", "–", "–"])
            continue
        met = "–" if r["target"] is None else ("met" if r["heldout_nll"] <= r["target"] else "**missed**")
        target = "–" if r["target"] is None else f"≤ {r['target']}"
        trained = f"{r['train_min']:.0f} min" if r.get("train_min") else "–"
        speed = f"{r['ms_per_char']:.2f}" if "ms_per_char" in r else "–"
        row = [r["model"], f"{r['params']:,}", f"{r['heldout_nll']:.4f}", target, met, trained, speed, r["anchor"]]
        table.append(row)
    header = [
        "model",
        "parameters",
        "held-out NLL (recomputed; nats/token, images: nats/image)",
        "target",
        "",
        "trained (card)",
        "ms per generated token",
        "anchor",
    ]
    return md_table(header, table) + "\n"


def target_rows(rows: list[dict]) -> list[list[str]]:
    """This section's rows of the Targets table: each held-out target, the ordering gap, the gated margin."""
    by_model = {r["model"]: r for r in rows if "error" not in r}
    out = []
    for r in rows:
        if r.get("target") is not None:
            ok = r["heldout_nll"] <= r["target"]
            out.append([f"{r['model']} held-out NLL", f"≤ {r['target']}", f"{r['heldout_nll']:.4f}", verdict(ok)])
    if "names" in by_model and "names-reversed" in by_model:
        gap = by_model["names-reversed"]["heldout_nll"] - by_model["names"]["heldout_nll"]
        out.append(
            [
                "names-reversed − names held-out NLL",
                f"within ±{ORDERING_GAP}",
                f"{gap:+.4f}",
                verdict(abs(gap) <= ORDERING_GAP),
            ]
        )
    for gated in ("gated-pixelcnn", "gated-pixelcnn (digit summed out)"):
        if "pixelcnn" in by_model and gated in by_model:
            margin = by_model["pixelcnn"]["heldout_nll"] - by_model[gated]["heldout_nll"]
            out.append(
                [
                    f"{gated} below pixelcnn",
                    f"≥ {GATED_MARGIN} nats",
                    f"{margin:.2f}",
                    verdict(margin >= GATED_MARGIN),
                ]
            )
    return out


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def section(rows: list[dict]) -> str:
    return SECTION + "\n\n" + METHOD_NOTE + "\n\n" + report(rows)


def update_targets(markdown: str, rows: list[list[str]]) -> str:
    """The Targets table with this section's rows replaced (old rows of the same names dropped)."""
    mine = {r[0] for r in rows}
    lines = markdown.split("\n")
    kept, inserted = [], False
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("| ") else []
        is_mine = cells and (cells[0] in mine or cells[0].endswith("held-out NLL"))
        if is_mine:
            if not inserted:
                kept += ["| " + " | ".join(r) + " |" for r in rows]
                inserted = True
            continue
        kept.append(line)
    return "\n".join(kept)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--update", type=Path, help="rewrite this section and its target rows in the markdown file")
    args = p.parse_args(argv)
    rows = quality_rows() + image_rows()
    text = section(rows)
    print(text)
    if args.update:
        markdown = replace_section(args.update.read_text(), SECTION, text)
        args.update.write_text(update_targets(markdown, target_rows(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
