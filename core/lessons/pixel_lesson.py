"""The PixelCNN lesson's numbers in words: model cards, the animation's running commentary, the
image comparison, and a click on a chart as a pixel. Plain values in, strings and arrays out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.display import format_probability
from core.image.inputs import noise_image, shift_image
from core.image.model import ImageNLL, SampleResult
from core.lessons.pixel_animation import PixelAnimation

NO_LABEL = "no label"
LABEL_CHOICES = [NO_LABEL] + [str(d) for d in range(10)]


def label_value(choice: str) -> int | None:
    return None if choice == NO_LABEL else int(choice)


def clicked_pixel(points: list[dict]) -> tuple[int, int] | None:
    """(row, column) of the first cell a chart click selected, or None (no click, or a click off the grid)."""
    if not points:
        return None
    try:
        return int(points[0]["y"]), int(points[0]["x"])
    except (KeyError, TypeError, ValueError):
        return None


def card_summary(name: str, description: str, card: dict) -> str:
    """One model's card in a sentence: size, test NLL (and given the digit), how it was trained."""
    m = card["metrics"]
    given = (
        f" without its label, **{m['heldout_nll_conditional']:.2f}** given the true digit"
        if "heldout_nll_conditional" in m
        else ""
    )
    return (
        f"**{name}** — {description}. {card['num_params']:,} parameters; test NLL "
        f"**{m['heldout_nll']:.2f} nats** per image ({m['heldout_bits_per_dim']:.4f} bits/dim){given}; "
        f"trained with `{card['command']}` in {card['wall_time_s'] / 60:.0f} min on a shared 2-core CPU "
        f"({card['cpu_time_s'] / 60:.0f} CPU minutes)."
    )


@dataclass(frozen=True)
class FrameText:
    metric_label: str
    metric_value: str
    notes: list[str]  # markdown paragraphs under the metric


def frame_text(anim: PixelAnimation, sample: SampleResult, score: ImageNLL, temperature: float) -> FrameText:
    """What the animation says at its current frame: the next pixel's probability, the last drawn
    pixel, and the chain rule's log-probability of the pixels drawn so far (``score`` is the sample's NLL)."""
    image, probs, raw = sample.images[0], sample.probs[0], sample.raw_probs[0]
    step, notes = anim.step, []
    if (nxt := anim.next_pixel()) is not None:
        label = f"Pixel {step + 1} (row {nxt[0]}, column {nxt[1]}): p(ink | pixels before)"
        value = format_probability(raw[nxt])
        notes.append(
            f"The outlined pixel is drawn next: at temperature {temperature:g}, ink with probability "
            f"**{format_probability(probs[nxt])}**. Grey pixels do not exist yet, and the model never reads them."
        )
    else:
        label, value = f"Finished: all {anim.n_pixels} pixels drawn", f"{anim.n_pixels} / {anim.n_pixels}"
    if (last := anim.last_pixel()) is not None:
        notes.append(
            f"Last drawn: pixel {step} (row {last[0]}, column {last[1]}) came out "
            f"**{'ink (1)' if image[last] else 'background (0)'}**; its p(ink) was {format_probability(raw[last])}."
        )
        nll = score.prefix_nll(step)
        notes.append(
            f"Log-probability of the {step} pixels drawn so far, by the chain rule: "
            f"**−{nll:.1f} nats** (p = e^−{nll:.1f} ≈ 10^−{nll / math.log(10):.1f})."
        )
    return FrameText(label, value, notes)


def comparison_images(image: np.ndarray, dx: int, dy: int, noise_seed: int) -> tuple[dict[str, np.ndarray], int]:
    """The image, noise with its share of ink, and the image shifted; and how many ink pixels the
    shift pushed out of the frame (fewer pixels to predict lowers the NLL for no good reason)."""
    shifted = shift_image(image, dy, dx)
    variants = {
        "this image": image,
        "noise (same ink share)": noise_image(image, noise_seed),
        f"shifted ({dx:+d}, {dy:+d})": shifted,
    }
    return variants, int(image.sum()) - int(shifted.sum())


# ---------------------------------------------------------------------------------------------
# High likelihood is not typicality (Nalisnick et al. 2019)

EXTREME_IMAGES = {
    "blank": np.zeros((28, 28), dtype=np.uint8),  # no ink at all
    "all-ink": np.ones((28, 28), dtype=np.uint8),  # every pixel ink
}
NALISNICK = (
    "Nalisnick, Matsukawa, Teh, Gorur and Lakshminarayanan (2019), "
    "“Do deep generative models know what they don't know?”"
)


def typicality_note(nll: float, test_nlls: np.ndarray, what: str = "this image") -> str:
    """Where one image's NLL falls among the test digits', in words (``test_nlls``: (N,) nats)."""
    n = len(test_nlls)
    worse = int((test_nlls > nll).sum())  # test digits the model finds LESS likely than this image
    lo, hi = np.percentile(test_nlls, [5, 95])
    return (
        f"{what[:1].upper() + what[1:]} costs **{nll:.1f} nats**; the {n} real test digits cost "
        f"{lo:.1f}–{hi:.1f} nats (5th–95th percentile), and **{worse} of the {n}** are less likely than it."
    )


def likelihood_is_not_typicality(nlls: dict[str, float], test_nlls: np.ndarray) -> str:
    """The famous caveat, with this model's numbers for the blank and the all-ink image."""
    median = float(np.median(test_nlls))
    parts = []
    for what, nll in nlls.items():
        more = int((test_nlls > nll).sum())
        article = "an" if what[0] in "aeiou" else "a"
        parts.append(
            f"{article} {what} image costs **{nll:.1f} nats** (more likely than {more} of the {len(test_nlls)} digits)"
        )
    return (
        f"Under this model {' and '.join(parts)}; a typical real digit costs {median:.1f} nats (the median). "
        "A likelihood model can give its highest probabilities to images that look nothing like its training "
        "data: a blank page is easy to predict pixel by pixel (every factor says “background”, "
        "confidently), yet you would never see one among its samples. **High likelihood is not "
        f"typicality** — a famous finding of {NALISNICK}, where models trained on one data set gave higher "
        "likelihood to another. So p(x) alone cannot tell whether an image is a digit."
    )


def figures_table(cards: dict[str, dict], anchors: dict[str, float]) -> dict[str, list[str]]:
    """Test NLLs side by side: our models from their cards, and the papers' (on 60,000 training digits)."""
    rows = {"model": [], "trained on": [], "test NLL, no label (nats)": [], "given the digit (nats)": []}
    short = {k: k.split(" (")[0] + " (paper)" for k in anchors}  # "PixelCNN (paper)": the source is in the card
    for name, card in cards.items():
        m = card["metrics"]
        rows["model"].append(f"{name} (ours)")
        rows["trained on"].append(f"{card['data']['n_train']:,} digits")
        rows["test NLL, no label (nats)"].append(f"{m['heldout_nll']:.2f}")
        c = m.get("heldout_nll_conditional")
        rows["given the digit (nats)"].append("–" if c is None else f"{c:.2f}")
        if "heldout_nll_mixture" in m:  # the same network, its label summed out instead of left out
            rows["model"].append(f"{name} (ours), digit summed out")
            rows["trained on"].append(f"{card['data']['n_train']:,} digits")
            rows["test NLL, no label (nats)"].append(f"{m['heldout_nll_mixture']:.2f}")
            rows["given the digit (nats)"].append("–")
    for paper, nll in anchors.items():
        rows["model"].append(short[paper])
        rows["trained on"].append("60,000 digits")
        rows["test NLL, no label (nats)"].append(f"{nll:.2f}")
        rows["given the digit (nats)"].append("–")
    return rows
