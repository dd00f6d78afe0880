"""Character vocabularies: text <-> token ids, with the special start/end tokens of each model.

Two shapes are used in the app:

* names: ``.`` is both the start token (the empty context) and the end-of-name token, as in
  makemore, followed by ``a``..``z``. Upper case is lower-cased, not rejected.
* shakespeare: every character of the corpus plus a start-of-text token ``<s>`` that only ever
  appears as input, so that p(x1) = p(x1 | <s>) is defined and the chain rule has a first factor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import VocabError

# How special tokens are written when shown to a user.
BOS_TEXT = "<s>"


@dataclass(frozen=True)
class Vocab:
    chars: list[str]  # id -> symbol; specials included, at the ids given below
    bos_id: int  # the start token every sequence is conditioned on
    eos_id: int | None  # the end token the model may emit (names), or None (free text)
    lowercase: bool = False  # fold upper case before encoding (names)
    stoi: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        specials = {self.bos_id} | ({self.eos_id} if self.eos_id is not None else set())
        stoi = {ch: i for i, ch in enumerate(self.chars) if i not in specials}
        object.__setattr__(self, "stoi", stoi)

    @property
    def size(self) -> int:
        return len(self.chars)

    @property
    def stop_ids(self) -> frozenset[int]:
        """Tokens that end a generated text: the end token, if the model has one."""
        return frozenset() if self.eos_id is None else frozenset({self.eos_id})

    @property
    def input_only_ids(self) -> list[int]:
        """Tokens the model reads but never predicts (a start token distinct from the end token)."""
        return [self.bos_id] if self.bos_id != self.eos_id else []

    def allowed_description(self) -> str:
        """The allowed text characters, in words a student can read."""
        text_chars = [self.chars[i] for i in sorted(self.stoi.values())]
        shown = "".join(c for c in text_chars if c.isprintable() and not c.isspace())
        extras = []
        if " " in self.stoi:
            extras.append("space")
        if "\n" in self.stoi:
            extras.append("newline")
        note = " (upper case is lower-cased)" if self.lowercase else ""
        return f"{shown}" + (f" plus {' and '.join(extras)}" if extras else "") + note

    def normalize(self, text: str) -> str:
        """The text as the model reads it: lower-cased when the vocabulary folds case, else unchanged."""
        return text.lower() if self.lowercase else text

    def encode(self, text: str) -> list[int]:
        """Text -> ids, without any special token. Unknown characters raise VocabError listing them."""
        text = self.normalize(text)
        bad = sorted({c for c in text if c not in self.stoi})
        if bad:
            raise VocabError(bad, self.allowed_description())
        return [self.stoi[c] for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.token_text(i) for i in ids)

    def token_text(self, i: int) -> str:
        """One id as display text: specials get a readable name, characters stand for themselves."""
        if i == self.eos_id:
            return "." if self.eos_id == self.bos_id else "<end>"
        if i == self.bos_id:
            return BOS_TEXT
        return self.chars[i]

    def to_dict(self) -> dict:
        return {
            "chars": self.chars,
            "bos_id": self.bos_id,
            "eos_id": self.eos_id,
            "lowercase": self.lowercase,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        return cls(
            chars=list(d["chars"]),
            bos_id=int(d["bos_id"]),
            eos_id=None if d["eos_id"] is None else int(d["eos_id"]),
            lowercase=bool(d.get("lowercase", False)),
        )


def names_vocab() -> Vocab:
    """'.' (start and end of a name) followed by a..z: 27 symbols."""
    return Vocab(chars=["."] + [chr(c) for c in range(ord("a"), ord("z") + 1)], bos_id=0, eos_id=0, lowercase=True)


def text_vocab(text: str) -> Vocab:
    """Every distinct character of ``text`` plus a start token at id 0."""
    return Vocab(chars=[BOS_TEXT] + sorted(set(text)), bos_id=0, eos_id=None)
