"""Model quality: every shipped model's held-out NLL, recomputed from the weights, beside its anchor."""

from __future__ import annotations

import core
from benchmarks.common import md_table
from core.text.evaluation import measure_heldout_nll

# What the literature reports in a comparable setting, for the reader to judge ours against.
ANCHORS = {
    "names": "≈ 1.92 nats/char: karpathy/makemore 200K-param transformer on its 32K names",
    "names-bigram": "≈ 2.45 nats/char: makemore's counted bigram",
    "names-leaky": "not comparable: it reads the token it predicts",
    "shakespeare": "1.88 (nanoGPT CPU config, 0.8M params) / 1.47 (nanoGPT GPU config, 10.6M params)",
    "pixelcnn": "81.30 nats/image: PixelCNN (van den Oord et al. 2016), trained on 60,000 images; ours saw 4,500",
    "gated-pixelcnn": "79.20 nats/image: PixelRNN (the best of that paper), 60,000 training images; ours saw 4,500",
}
TARGETS = {"names": 1.92, "names-bigram": 2.5, "shakespeare": 1.55, "pixelcnn": 95.0, "gated-pixelcnn": 90.0}


def image_rows() -> list[dict]:
    """Test NLL (nats per image, unconditional) of the image models on the shipped 500 test digits."""
    import torch

    from core.image.mnist import load_test_set
    from core.image.model import IMAGE_MODELS, load_image_model, nll_per_image

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
        if name == "gated-pixelcnn":  # told which digit to draw
            cond = nll_per_image(model.net, x, torch.from_numpy(digits.labels)).mean().item()
            rows.append(
                {
                    "model": name + " (given the digit)",
                    "params": model.net.num_params(),
                    "heldout_nll": cond,
                    "card_nll": model.card["metrics"]["heldout_nll_conditional"],
                    "target": TARGETS[name],
                    "anchor": ANCHORS[name],
                    "unit": "nats/image",
                }
            )
    return rows


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
            }
        )
    return rows


def report(rows: list[dict]) -> str:
    table = []
    for r in rows:
        if "error" in r:
            table.append([r["model"], "–", "unavailable: " + r["error"], "–", "–", "–"])
            continue
        met = "–" if r["target"] is None else ("met" if r["heldout_nll"] <= r["target"] else "**missed**")
        target = "–" if r["target"] is None else f"≤ {r['target']}"
        table.append([r["model"], f"{r['params']:,}", f"{r['heldout_nll']:.4f}", target, met, r["anchor"]])
    header = [
        "model",
        "parameters",
        "held-out NLL (recomputed; nats/token, images: nats/image)",
        "target",
        "",
        "anchor",
    ]
    return md_table(header, table) + "\n"
