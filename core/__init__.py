"""Chain Rule Lab's core: the maths and the tiny models. Never imports streamlit."""

from core.errors import ChainRuleError, CheckpointError, InputError, ModelNotFoundError, VocabError
from core.models.kv_cache import KVCache, causal_mask
from core.models.transformer import GPT, GPTConfig
from core.text import sampling  # core.sampling: the pure sampling rules
from core.text.language_model import (
    TEXT_MODELS,
    Score,
    Step,
    TextModel,
    generate,
    load_text_model,
    next_token_logits,
    sample_step,
    score,
)
from core.text.sampling import SamplingSettings, SamplingStages, apply_penalties, next_token_distribution, sample_token
from core.text.vocab import Vocab

__all__ = [
    "GPT",
    "TEXT_MODELS",
    "ChainRuleError",
    "CheckpointError",
    "GPTConfig",
    "InputError",
    "KVCache",
    "ModelNotFoundError",
    "SamplingSettings",
    "SamplingStages",
    "Score",
    "Step",
    "TextModel",
    "Vocab",
    "VocabError",
    "apply_penalties",
    "causal_mask",
    "generate",
    "load_text_model",
    "next_token_distribution",
    "next_token_logits",
    "sample_step",
    "sample_token",
    "score",
    "sampling",
]
