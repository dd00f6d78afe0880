"""A byte-level BPE vocabulary (SmolLM2's) with the same interface as the character ``Vocab``.

The tokenizer itself is the ``tokenizers`` library's BPE, built by ``core.text.gguf_llm`` from the
vocabulary and merges stored in the model's GGUF file; this module only wraps it in the shape the
app expects (``encode``, ``decode``, ``size``, ``bos_id``, ``eos_id``, ``token_text``, ...).

Choices, and why:

* ``bos_id`` is ``<|endoftext|>``. The chain rule needs a first factor p(x1 | <start>), so every
  sequence is conditioned on a start token. SmolLM2 adds no BOS of its own (its GGUF says
  ``add_bos_token = False``; the "bos" id it names, ``<|im_start|>``, opens a chat turn, not a
  text). ``<|endoftext|>`` is the separator between the documents it was trained on, so "what
  follows <|endoftext|>" is the start of a document, the meaning the first factor should have.
* ``eos_id`` is ``<|im_end|>``, the token with which the instruct model ends its answer (the file's
  own eos id). The app's generation loop stops on ``eos_id`` alone; ``stop_ids`` also holds
  ``<|endoftext|>``, which the model emits at the end of a plain continuation, for a loop that
  can stop on either. Note that ``score()`` appends ``eos_id`` as the text's last factor when it is
  not None; ``BPEVocab(..., eos_id=None)`` gives the plain-continuation behaviour of the
  Shakespeare model instead.
* ``encode`` takes any Unicode and never produces a control token: "<|im_end|>" typed by a user is
  plain text (several tokens). Control tokens enter only through ``encode_chat``, where the
  model's own chat template puts them.
"""

from __future__ import annotations

import re
from functools import cached_property

from tokenizers import Tokenizer

from core.display import visible

# How whitespace is shown inside a token (the marks the rest of the app uses).

BOS_TEXT = "<|endoftext|>"
IM_START_TEXT = "<|im_start|>"
IM_END_TEXT = "<|im_end|>"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table: how a byte-level BPE vocabulary spells bytes.

    Printable Latin-1 bytes stand for themselves; the other 68 (space, control bytes, ...) are
    moved to U+0100 onwards, which is why a leading space shows as "Ġ" in the vocabulary.
    """
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


_UNICODE_TO_BYTE = {c: b for b, c in bytes_to_unicode().items()}


def show_bytes(data: bytes) -> str:
    """Bytes as display text: whole UTF-8 characters as themselves (space, newline and tab as
    ␣ ⏎ ⇥), and bytes that are only part of a character as <0xE2>."""
    out, i = [], 0
    while i < len(data):
        for n in (1, 2, 3, 4):
            try:
                ch = data[i : i + n].decode("utf-8")
            except UnicodeDecodeError:
                continue
            out.append(visible(ch))
            i += n
            break
        else:
            out.append(f"<0x{data[i]:02X}>")
            i += 1
    return "".join(out)


class BPEVocab:
    """Text <-> token ids of a byte-level BPE model, shaped like ``core.text.vocab.Vocab``."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        tokens: list[str],
        special_ids: dict[str, int],
        chat_template: str | None = None,
        bos_id: int | None = None,
        eos_id: int | None = -1,
    ):
        """tokenizer: encodes control-token strings as plain text (``encode_special_tokens``);
        tokens: id -> token in the vocabulary's byte-level spelling; special_ids: control token ->
        id; bos_id defaults to <|endoftext|>, eos_id (-1 = default) to <|im_end|>."""
        self._tok = tokenizer
        self._tok.encode_special_tokens = True  # set once, never toggled: the object is shared by threads
        self.tokens = list(tokens)
        self.special_ids = dict(special_ids)
        self.chat_template = chat_template
        self.bos_id = self.special_ids[BOS_TEXT] if bos_id is None else bos_id
        self.eos_id = self.special_ids[IM_END_TEXT] if eos_id == -1 else eos_id
        self.stop_ids = frozenset({self.special_ids[IM_END_TEXT], self.special_ids[BOS_TEXT]})
        self._special_by_id = {i: s for s, i in self.special_ids.items()}
        self._special_re = re.compile("|".join(re.escape(s) for s in sorted(self.special_ids, key=len, reverse=True)))

    # --- the Vocab interface -------------------------------------------------------------------

    @property
    def size(self) -> int:
        return len(self.tokens)

    @property
    def input_only_ids(self) -> list[int]:
        """Tokens read but never predicted: none (the model predicts <|endoftext|> too)."""
        return []

    def allowed_description(self) -> str:
        return (
            "any text: the tokenizer works on UTF-8 bytes, so every character (accents, emoji, any script) "
            "can be written, in one token or several"
        )

    def normalize(self, text: str) -> str:
        """The text as the model reads it: byte-level BPE changes nothing (every string has its bytes)."""
        return text

    def encode(self, text: str) -> list[int]:
        """Text -> ids, without any control token (typed "<|im_end|>" is plain text)."""
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        """Ids -> the text they spell (control tokens by their names; a cut character as U+FFFD)."""
        return self._tok.decode(list(ids), skip_special_tokens=False)

    def token_text(self, i: int) -> str:
        """One id as display text: "␣Paris", "⏎", "<0xF0><0x9F>", "<|im_end|>"."""
        return self.display_texts[i]

    @cached_property
    def display_texts(self) -> list[str]:
        return [self._special_by_id.get(i) or show_bytes(self.token_bytes(i)) for i in range(self.size)]

    @cached_property
    def chars(self) -> list[str]:
        """id -> the token's own text (" Paris", "\\n"), as ``Vocab.chars``; control tokens by name."""
        out = []
        for i in range(self.size):
            name = self._special_by_id.get(i)
            out.append(name if name is not None else self.token_bytes(i).decode("utf-8", errors="replace"))
        return out

    def token_bytes(self, i: int) -> bytes:
        """The bytes a (non-control) token stands for."""
        return bytes(_UNICODE_TO_BYTE[c] for c in self.tokens[i])

    # --- chat ----------------------------------------------------------------------------------

    def render_chat(self, messages: list[dict], add_generation_prompt: bool = True) -> str:
        """The model's own chat template (from its GGUF file) rendered with jinja2, as
        transformers' ``apply_chat_template(..., tokenize=False)`` renders it."""
        if not self.chat_template:
            raise ValueError("this vocabulary has no chat template")
        return _compiled_template(self.chat_template).render(
            messages=messages, add_generation_prompt=add_generation_prompt
        )

    def encode_chat(self, user_message: str, system: str | None = None) -> list[int]:
        """Ids of one user turn wrapped in the chat template, ending where the assistant's answer
        starts. The template's control tokens become control ids; the message's own text never
        does (a typed "<|im_end|>" stays text). No start token: prepend ``bos_id`` as for any text.
        """
        messages = ([{"role": "system", "content": system}] if system is not None else []) + [
            {"role": "user", "content": user_message}
        ]
        # Render with placeholders, so control tokens are recognised in the template's text only.
        marks = [f"\x00{n}\x00" for n in range(len(messages))]
        rendered = self.render_chat([{**m, "content": mark} for m, mark in zip(messages, marks, strict=True)])
        pieces: list[int | str] = []  # control ids and plain text, in order
        for n, part in enumerate(re.split("\x00(\\d+)\x00", rendered)):
            if n % 2 == 1:
                pieces.append(messages[int(part)]["content"])
                continue
            pos = 0
            for m in self._special_re.finditer(part):
                pieces += [part[pos : m.start()], self.special_ids[m.group()]]
                pos = m.end()
            pieces.append(part[pos:])
        ids, text = [], ""
        for p in pieces + [None]:
            if isinstance(p, str):
                text += p  # adjacent template text and message text are tokenized together
                continue
            if text:
                ids += self.encode(text)
                text = ""
            if p is not None:
                ids.append(p)
        return ids


_TEMPLATES: dict[str, object] = {}


def _compiled_template(source: str):
    """jinja2 in a sandbox with transformers' settings (trim_blocks, lstrip_blocks), cached."""
    if source not in _TEMPLATES:
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        _TEMPLATES[source] = env.from_string(source)
    return _TEMPLATES[source]
