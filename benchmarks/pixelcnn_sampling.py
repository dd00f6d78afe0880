"""PixelCNN sampling: 16 images drawn pixel by pixel, fast path against naive path, same seed.

The naive path reruns the whole network on the canvas for each of the 784 pixels. The fast path
(``method="fast"``) keeps every layer's activations in a cache owned by the run and computes each
activation once: for the plain PixelCNN every layer at the one new position, for the gated model
the vertical stack once per row and the horizontal stack at the new position. Both draw the same
uniform numbers from one seeded generator, so the images must be identical; this benchmark checks
that and exits with status 1 if they differ. Target: 16 images in <= 3 s with the fast path on a
2-core CPU.

    python -m benchmarks.pixelcnn_sampling                       # both models, 16 full images
    python -m benchmarks.pixelcnn_sampling --n 2 --rows 2        # smoke test: first 2 rows of 2 images
"""

from __future__ import annotations

import argparse
import collections
import itertools
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

from benchmarks.common import Stats, machine, md_table
from core.image.model import IMAGE_MODELS, ImageModel, load_image_model, sample_images

TARGET_FAST_S = 3.0


@dataclass(frozen=True)
class SamplingTimes:
    model: str
    n: int
    pixels: int  # pixels drawn per image
    fast: Stats  # seconds per run of the fast path
    naive_s: float  # seconds of one naive run (it is slow: measured once)
    identical: bool  # the two paths drew exactly the same pixels

    @property
    def speedup(self) -> float:
        return self.naive_s / self.fast.median


def draw(model: ImageModel, n: int, pixels: int, seed: int, method: str) -> tuple[np.ndarray, float]:
    """(canvas (n, 28, 28) after ``pixels`` steps, seconds) for one run of ``method``."""
    t0 = time.perf_counter()
    steps = itertools.islice(sample_images(model, n, seed, temperature=1.0, method=method), pixels)
    last = collections.deque(steps, maxlen=1)[0]  # run the generator to the end, keep the last step
    return last.canvas, time.perf_counter() - t0


def measure(model: ImageModel, n: int = 16, rows: int = 28, seed: int = 0, repeats: int = 3) -> SamplingTimes:
    pixels = rows * model.image_size
    fast_images, _ = draw(model, n, pixels, seed, "fast")  # warm-up, and the images to compare
    times = [draw(model, n, pixels, seed, "fast")[1] for _ in range(repeats)]
    naive_images, naive_s = draw(model, n, pixels, seed, "naive")
    return SamplingTimes(
        model=model.name,
        n=n,
        pixels=pixels,
        fast=Stats.of(times),
        naive_s=naive_s,
        identical=bool(np.array_equal(fast_images, naive_images)),
    )


def report(results: list[SamplingTimes]) -> str:
    rows = [
        [
            r.model,
            f"{r.n} × {r.pixels}",
            r.fast.fmt(digits=2),
            f"{r.naive_s:.2f}",
            f"{r.speedup:.1f}×",
            "yes" if r.identical else "**NO**",
            ("met" if r.fast.median <= TARGET_FAST_S else "**missed**") if r.pixels == 784 and r.n == 16 else "n/a",
        ]
        for r in results
    ]
    header = ["model", "images × pixels", "fast s, median (min–max)", "naive s", "speed-up", "same images", "≤ 3 s"]
    return md_table(header, rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.pixelcnn_sampling", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=list(IMAGE_MODELS), action="append", help="default: both")
    p.add_argument("--n", type=int, default=16, help="images drawn together")
    p.add_argument("--rows", type=int, default=28, help="rows to draw (fewer for a smoke test)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=3, help="timed runs of the fast path")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = [
        measure(load_image_model(name), args.n, args.rows, args.seed, args.repeats)
        for name in (args.model or list(IMAGE_MODELS))
    ]
    print(", ".join(f"{k}: {v}" for k, v in machine().items()))
    print(report(results))
    return 0 if all(r.identical for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
