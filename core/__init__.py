"""Chain Rule Lab's core: the maths and the tiny models. Never imports streamlit."""

from core import sampling
from core.errors import ChainRuleError, CheckpointError, InputError, ModelNotFoundError, VocabError
from core.sampling import SamplingStages, next_token_distribution, sample_token
from core.text import (
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
from core.transformer import GPT, GPTConfig, KVCache, causal_mask
from core.vocab import Vocab

__all__ = [
    "GPT",
    "TEXT_MODELS",
    "ChainRuleError",
    "CheckpointError",
    "GPTConfig",
    "InputError",
    "KVCache",
    "ModelNotFoundError",
    "SamplingStages",
    "Score",
    "Step",
    "TextModel",
    "Vocab",
    "VocabError",
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
