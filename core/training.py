"""One training harness for every model: the schedule, the loop, the weight average and the card.

The whole training story of an autoregressive model is one objective: the mean -log p of each
next piece (token or pixel) given what came before. Every trainer here - the shipped text and
image models (``python -m core.train``, ``python -m core.train_image``) and the live training
page - runs that objective through ``train_steps``, which yields one ``Progress`` per step, so
a caller can log it, draw it, or stop by breaking out of the loop.
"""

from __future__ import annotations

import math
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
import torch.nn as nn


@dataclass(frozen=True)
class Schedule:
    learning_rate: float  # peak, after warm-up
    warmup_iters: int  # linear warm-up steps
    max_iters: int  # the cosine decays to a tenth of the peak at this step


def lr_at(it: int, schedule: Schedule) -> float:
    """Linear warm-up, then cosine decay from the peak to a tenth of it."""
    if it < schedule.warmup_iters:
        return schedule.learning_rate * (it + 1) / schedule.warmup_iters
    progress = (it - schedule.warmup_iters) / max(1, schedule.max_iters - schedule.warmup_iters)
    return schedule.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


class WeightAverage:
    """An exponential moving average of the weights (Polyak averaging), swapped in to evaluate and ship."""

    def __init__(self, net: nn.Module, decay: float):
        self.net = net
        self.averaged = torch.optim.swa_utils.AveragedModel(
            net, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(decay), use_buffers=False
        )

    def update(self) -> None:
        self.averaged.update_parameters(self.net)

    def swap(self) -> None:
        """Exchange the live weights with the averaged ones, in place (call twice to undo)."""
        with torch.no_grad():
            for p, q in zip(self.net.parameters(), self.averaged.module.parameters(), strict=True):
                tmp = p.detach().clone()
                p.copy_(q)
                q.copy_(tmp)


@dataclass
class Progress:
    step: int  # optimisation steps done
    loss: float  # this step's training-batch loss
    smooth_loss: float  # an exponential moving average of the batch losses (0.98)
    evaluation: dict | None = None  # the evaluator's numbers at this step, None between evaluations
    elapsed_s: float = 0.0  # wall time since training started


def train_steps(
    net: nn.Module,
    step_loss: Callable[[int], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    schedule: Schedule,
    n_steps: int,
    evaluate: Callable[[], dict] | None = None,
    eval_interval: int = 0,
    ema: float = 0.0,
    clip: float = 1.0,
) -> Iterator[Progress]:
    """Run ``n_steps`` of gradient descent on ``step_loss(it)``, yielding a Progress after each step.

    Every ``eval_interval`` steps and at the last one, ``evaluate()`` runs in eval mode (on the
    weight average when ``ema`` > 0; the last step's weights then appear in its dict under
    ``"last_step"``), and the Progress of that step is yielded while those weights are in place.
    After the last step the net holds what ships: the average when ``ema`` > 0. Breaking out of
    the iterator stops training.
    """
    average = WeightAverage(net, ema) if ema > 0 else None
    smooth = None
    t0 = time.perf_counter()
    for it in range(n_steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(it, schedule)
        loss = step_loss(it)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        optimizer.step()
        if average is not None:
            average.update()
        value = loss.item()
        smooth = value if smooth is None else 0.98 * smooth + 0.02 * value
        last = it + 1 == n_steps
        progress = Progress(it + 1, value, smooth, None, time.perf_counter() - t0)
        if evaluate is None or not ((eval_interval and (it + 1) % eval_interval == 0) or last):
            if last and average is not None:
                average.swap()  # no evaluator: ship the average all the same
            yield progress
            continue
        net.eval()
        if average is not None:
            last_step = evaluate()  # the last step's weights, logged for comparison only
            average.swap()
            progress.evaluation = {**evaluate(), "last_step": last_step}
        else:
            progress.evaluation = evaluate()
        yield progress  # the caller sees (and may save) the evaluated weights, in eval mode
        if average is not None and not last:
            average.swap()  # back to the training weights
        net.train()


def adamw(net: nn.Module, learning_rate: float, weight_decay: float, betas=(0.9, 0.999), decay_matrices_only=False):
    """AdamW; with ``decay_matrices_only`` biases, norms and gains (1-D parameters) get no weight decay."""
    if not decay_matrices_only:
        return torch.optim.AdamW(net.parameters(), lr=learning_rate, weight_decay=weight_decay, betas=betas)
    decay = [p for p in net.parameters() if p.dim() >= 2]
    no_decay = [p for p in net.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=learning_rate, betas=betas)


@dataclass
class RunClock:
    """The run details every card records: the exact command, threads, torch, wall and CPU time."""

    command: str
    threads: int
    started_wall: float = field(default_factory=time.time)
    started_cpu: float = field(default_factory=time.process_time)

    @classmethod
    def for_cli(cls, entry_point: str, argv: list[str], threads: int) -> RunClock:
        return cls(f"python -m {entry_point} " + shlex.join(argv), threads)

    def details(self, seed: int, command_suffix: str = "") -> dict:
        return {
            "command": self.command + command_suffix,
            "seed": seed,
            "threads": self.threads,
            "torch_version": torch.__version__,
            "wall_time_s": round(time.time() - self.started_wall, 1),
            # CPU seconds over all threads: on a shared machine, cpu_time_s / threads is the
            # wall time the run would take with the machine to itself
            "cpu_time_s": round(time.process_time() - self.started_cpu, 1),
        }


def progress_bar(total: int, desc: str):
    """A tqdm bar on stderr (tqdm is a dev dependency: only the training commands use it)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, mininterval=5)


def log(msg: str) -> None:
    """One line above the progress bar."""
    from tqdm import tqdm

    tqdm.write(msg, file=sys.stderr)
