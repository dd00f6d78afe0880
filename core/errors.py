"""Errors a user can cause, each with a message that says what is wrong and what is allowed.

Pages catch these and show them with ``st.error``; nothing else should reach a user.
"""


class ChainRuleError(Exception):
    """Base class of every error the app reports to a user in plain words."""


class ModelNotFoundError(ChainRuleError, LookupError):
    """An unknown model name; the message lists the available models."""

    def __init__(self, name: str, available: list[str]):
        self.name = name
        self.available = list(available)
        super().__init__(f"Unknown model {name!r}. Available models: {', '.join(self.available)}.")


class CheckpointError(ChainRuleError):
    """A weights file or its card is missing, truncated, altered or does not fit the model."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"Cannot load {self.path}: {problem}")


class VocabError(ChainRuleError, ValueError):
    """Text with characters the model's vocabulary does not have."""

    def __init__(self, bad_chars: list[str], allowed: str):
        self.bad_chars = bad_chars
        self.allowed = allowed
        shown = ", ".join(_describe_char(c) for c in bad_chars)
        super().__init__(f"These characters are not in the model's vocabulary: {shown}. Allowed characters: {allowed}")


class InputError(ChainRuleError, ValueError):
    """Any other user input outside what is allowed (empty text, out-of-range values, bad images)."""


class WorkerError(ChainRuleError):
    """A worker process (the real LLM's, the background jobs') stopped or failed; the message says what
    happened and what was kept (core.workers)."""


def _describe_char(c: str) -> str:
    """A character as a student can read it: printable ones quoted, others by code point."""
    if c.isprintable() and not c.isspace():
        return repr(c)
    if c == " ":
        return "' ' (space)"
    return f"U+{ord(c):04X}"
