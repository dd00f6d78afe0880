"""What each lesson page remembers, one frozen dataclass per page (the rules: ``core.lessons.page_state``).

Every field is one control of the page and one query parameter of its link; its default is where
the page starts. ``from_query(ChainRuleState, params)`` reads a link with notes in words for what it
could not use, ``to_query(state)`` writes one, ``link("chain_rule", state)`` makes the address
that opens the page in that state. The field names are the widgets' keys: unique across the app.
Live sampling keeps its short names (``/sampling?seed=3&temperature=0.8``), as links shared before.

What is not here is not in the link, on purpose: a text typed into the Training page (up to 200 KB,
longer than an address can carry), uploads, a running job, and everything a click draws from the
generator (Live sampling carries its drawn text by hand: ``core.lessons.settings.text_to_query``).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.image.model import IMAGE_MODELS
from core.lessons.attention_lesson import ATTENTION_MODELS, HEAD_STATISTICS, MAX_TEXT_CHARS
from core.lessons.causality import MAX_SHOWN_TOKENS
from core.lessons.chain_rule import ORDERINGS, UNITS, WORKED_FACTORS, all_sequences, position_name, sequence_text
from core.lessons.drift import DEFAULT_PICK, MAX_DRIFT_TOKENS, MIN_DRIFT_TOKENS, TYPED_TOKEN_CHARS
from core.lessons.joint_sampling import MAX_DRAWS, TOP_KS
from core.lessons.ledger import PROMPT_PAIRS, PROMPT_TEXT_EXAMPLES
from core.lessons.loss_ledger import SPLITS as LEDGER_SPLITS
from core.lessons.page_state import choice, flag, number, text, whole
from core.lessons.pixel_animation import SPEEDS as PIXEL_SPEEDS
from core.lessons.pixel_lesson import LABEL_CHOICES, NO_LABEL
from core.lessons.ranking import CANDIDATES_TEXT_CHARS, RANK_PROMPT_CHARS, RANKING_MODELS, RANKING_PRESETS
from core.lessons.settings import (
    ORDER_NAMES,
    PENALTY_RANGE,
    PROMPT_MAX_CHARS,
    REPETITION_RANGE,
    SAMPLING_MODELS,
    SPEEDS,
    TEMPERATURE_MAX,
    TOP_P_MIN,
    clamp_tokens,
    speed_label,
)
from core.text.live_training import LIVE_KINDS
from core.text.sampling import SamplingSettings
from core.validation import MAX_SEED

SEED_WORDS = f"a whole number from 0 to {MAX_SEED}"
LEDGER_MODELS = ("names", "names-bigram", "shakespeare", "smollm2")
TEXT_MAX_CHARS = 1000  # the Chain rule page's text boxes (a 1000-character text is ~16 windows of 128)
PROMPT_CHARS = 200  # a prompt of the two-prompt classifier


def order_label(order: tuple[int, ...]) -> str:
    return " → ".join(position_name(p) for p in order)


@dataclass(frozen=True)
class SamplingState:
    """Live sampling: the model, the prompt and every knob (the text drawn travels by hand)."""

    model: str = choice(  # "my-model": trained on the Training page, in this browser session only
        "names", (*SAMPLING_MODELS, "my-model"), f"the model must be one of {', '.join(SAMPLING_MODELS)}"
    )
    prompt: str = text("", PROMPT_MAX_CHARS, "the prompt")
    temperature: float = number(
        1.0, 0, TEMPERATURE_MAX, f"temperature must be a number from 0 (greedy) to {TEMPERATURE_MAX:g}"
    )
    top_k: int = whole(
        0, 0, 10**6, "top-k must be a whole number >= 1, or 0 / off to keep every token", words={"off": 0, "none": 0}
    )
    top_p: float = number(1.0, TOP_P_MIN, 1, f"top-p must be a number from {TOP_P_MIN:g} to 1 (1 keeps every token)")
    seed: int = whole(0, 0, MAX_SEED, f"the seed must be {SEED_WORDS}")
    tokens: int = whole(20, 1, 300, "the number of tokens must be a whole number from 1 to 300", clamp=clamp_tokens)
    min_p: float = number(0.0, 0, 1, "min-p must be a number from 0 (off) to 1")
    typical_p: float = number(1.0, TOP_P_MIN, 1, f"typical-p must be a number from {TOP_P_MIN:g} to 1 (1 is off)")
    order: str = choice("hf", tuple(ORDER_NAMES), f"the order must be one of {', '.join(ORDER_NAMES)}")
    repetition: float = number(
        1.0, *REPETITION_RANGE, "the repetition penalty must be a number from 0.5 to 2 (1 is off)"
    )
    presence: float = number(0.0, *PENALTY_RANGE, "the presence penalty must be a number from -2 to 2 (0 is off)")
    frequency: float = number(0.0, *PENALTY_RANGE, "the frequency penalty must be a number from -2 to 2 (0 is off)")
    speed: int = choice(
        4,
        SPEEDS,
        f"the auto-play speed must be one of {', '.join(map(speed_label, SPEEDS))} (tokens per second)",
        label=speed_label,
    )
    kv_model: str = choice(  # "Why caching matters" times its own model: shakespeare's block of 128 shows the growth
        "shakespeare", SAMPLING_MODELS, f"the caching experiment's model must be one of {', '.join(SAMPLING_MODELS)}"
    )
    presenter: bool = flag(False)
    drift_on: bool = flag(False)  # "Drift, side by side": both continuations drawn (a few seconds with the LLM)
    drift_tokens: int = whole(
        20, MIN_DRIFT_TOKENS, MAX_DRIFT_TOKENS,
        f"the drift comparison's length must be a whole number from {MIN_DRIFT_TOKENS} to {MAX_DRIFT_TOKENS} tokens",
    )  # fmt: skip
    drift_pick: str = text(DEFAULT_PICK, TYPED_TOKEN_CHARS, "the token picked for the drift comparison")
    drift_typed: str = text("", TYPED_TOKEN_CHARS, "the token typed for the drift comparison")

    def sampling(self) -> SamplingSettings:
        """The knobs as core.text.sampling takes them (0 / 1 / "off" become None)."""
        return SamplingSettings(
            self.temperature,
            self.top_k or None,
            self.top_p if self.top_p < 1 else None,
            self.min_p or None,
            self.typical_p if self.typical_p < 1 else None,
            self.order,
            self.repetition,
            self.presence,
            self.frequency,
        )


SEQUENCES = tuple(all_sequences())


@dataclass(frozen=True)
class ChainRuleState:
    """Chain rule: the worked example's factors, the exact joint's order and sequence, and every text box."""

    cr_unit: str = choice("nats", UNITS)
    cr_factor_0: float = number(WORKED_FACTORS[0], 0, 1, "a probability must be a number from 0 to 1")
    cr_factor_1: float = number(WORKED_FACTORS[1], 0, 1, "a probability must be a number from 0 to 1")
    cr_factor_2: float = number(WORKED_FACTORS[2], 0, 1, "a probability must be a number from 0 to 1")
    cr_joint_seed: int = whole(0, 0, MAX_SEED, f"the distribution number must be {SEED_WORDS}")
    cr_order: tuple = choice(ORDERINGS[0], ORDERINGS, label=order_label)
    cr_sequence: tuple = choice(SEQUENCES[11], SEQUENCES, label=sequence_text)
    cr_draws: int = whole(1000, 1, MAX_DRAWS, f"the number of draws must be a whole number from 1 to {MAX_DRAWS:,}")
    cr_draw_seed: int = whole(0, 0, MAX_SEED, f"the draws' seed must be {SEED_WORDS}")
    cr_draw_temperature: float = number(1.0, 0.1, 5.0, "the temperature must be a number from 0.1 to 5")
    cr_draw_top_k: int = choice(3, TOP_KS, "top-k must be 1, 2 or 3 (3 keeps every symbol)")
    cr_order_name: str = text("emma", PROMPT_CHARS, "the name to factor both ways")
    cr_ledger_model: str = choice("names", LEDGER_MODELS)
    cr_ledger_text: str = text("emma", TEXT_MAX_CHARS, "the text to score")
    cr_family_name: str = text("christopher", PROMPT_CHARS, "the name scored by every network")
    cr_compare_text: str = text("olivia", TEXT_MAX_CHARS, "the string to judge")
    cr_compare_a: str = choice("names", LEDGER_MODELS)
    cr_compare_b: str = choice("shakespeare", LEDGER_MODELS)
    cr_pair: str = choice("spam or not", tuple(PROMPT_PAIRS))
    cr_prompt_a: str = text(PROMPT_PAIRS["spam or not"][0], PROMPT_CHARS, "prompt A")
    cr_prompt_b: str = text(PROMPT_PAIRS["spam or not"][1], PROMPT_CHARS, "prompt B")
    cr_pair_text: str = text(PROMPT_TEXT_EXAMPLES[0], TEXT_MAX_CHARS, "the text to classify")
    cr_pair_on: bool = flag(False)
    cr_rank_model: str = choice("smollm2", RANKING_MODELS)
    cr_rank_prompt: str = text(RANKING_PRESETS["smollm2"]["a fact"][0], RANK_PROMPT_CHARS, "the prompt to continue")
    cr_rank_candidates: str = text(
        "\n".join(RANKING_PRESETS["smollm2"]["a fact"][1]), CANDIDATES_TEXT_CHARS, "the candidates"
    )
    cr_rank_on: bool = flag(False)  # score with SmolLM2 (its worker starts on first use)
    cr_presenter: bool = flag(False)  # presenter view: bigger charts, the secondary sections hidden


@dataclass(frozen=True)
class AttentionState:
    """Attention and causality: the model and its text, the head looked at, the probe and the seeds."""

    attention_model: str = choice("names", tuple(ATTENTION_MODELS))
    attention_text: str = text(ATTENTION_MODELS["names"].examples[0], MAX_TEXT_CHARS, "the text the model reads")
    attention_layer: int = whole(1, 1, 64, "the layer must be a whole number from 1 to the model's number of layers")
    attention_head: int = whole(1, 1, 64, "the head must be a whole number from 1 to the model's number of heads")
    attention_query: int = whole(
        MAX_SHOWN_TOKENS, 0, MAX_SHOWN_TOKENS, "the query row must be a whole number from 0 to the last token"
    )  # the default (past every text) means: the last row of whatever text is shown
    attention_toy_seed: int = whole(0, 0, MAX_SEED, f"the toy seed must be {SEED_WORDS}")
    attention_probe: str = text("emma", PROMPT_CHARS, "the name to probe")
    attention_sample_seed: int = whole(0, 0, MAX_SEED, f"the sampling seed must be {SEED_WORDS}")
    attention_statistic: str = choice(next(iter(HEAD_STATISTICS)), tuple(HEAD_STATISTICS))
    attention_family_name: str = text("christopher", PROMPT_CHARS, "the name every network reads")
    attention_presenter: bool = flag(False)  # presenter view


TRAINING_KINDS = LIVE_KINDS
TRAINING_STEPS = (100, 200, 300, 600, 1000, 2000)
TRAINING_RATES = (3e-4, 1e-3, 3e-3, 1e-2)


@dataclass(frozen=True)
class TrainingState:
    """Training: the data and the model's settings (a pasted text stays out of the link: too long)."""

    training_source: str = choice("names", ("names", "shakespeare", "your text"))
    training_kind: str = choice("transformer", tuple(TRAINING_KINDS), label=lambda k: TRAINING_KINDS.get(k, k))
    training_layers: int = choice(2, (1, 2, 3, 4))
    training_width: int = choice(64, (32, 64, 96, 128))
    training_block: int = choice(32, (8, 16, 32, 64))
    training_causal: bool = flag(True)
    training_steps: int = choice(600, TRAINING_STEPS)
    training_lr: float = choice(3e-3, TRAINING_RATES)
    training_seed: int = whole(0, 0, MAX_SEED, f"the seed must be {SEED_WORDS}")
    training_ledger_seed: int = whole(0, 0, MAX_SEED, f"the batch's seed must be {SEED_WORDS}")
    training_ledger_split: str = choice("training", LEDGER_SPLITS)
    training_presenter: bool = flag(False)  # presenter view


@dataclass(frozen=True)
class PixelState:
    """PixelCNN: the raster pixel, the receptive field's pixel and depth, the sample, the image scored."""

    pcnn_raster_i: int = whole(10, 1, 64, "the pixel must be a whole number from 1 to 64")
    pcnn_rf_row: int = whole(14, 0, 27, "the row must be a whole number from 0 to 27")
    pcnn_rf_col: int = whole(14, 0, 27, "the column must be a whole number from 0 to 27")
    pcnn_rf_layers: int = whole(4, 1, 12, "the number of layers must be a whole number from 1 to 12")
    pcnn_s_model: str = choice("gated-pixelcnn", tuple(IMAGE_MODELS))
    pcnn_s_label: str = choice(NO_LABEL, tuple(LABEL_CHOICES))
    pcnn_s_temp: float = number(1.0, 0, 2, "the temperature must be a number from 0 to 2")
    pcnn_s_seed: int = whole(0, 0, MAX_SEED, f"the seed must be {SEED_WORDS}")
    pcnn_s_speed: int = choice(14, PIXEL_SPEEDS)
    pcnn_grid_seed: int = whole(100, 0, MAX_SEED, f"the grid's seed must be {SEED_WORDS}")
    pcnn_l_model: str = choice("gated-pixelcnn", tuple(IMAGE_MODELS))
    pcnn_l_source: str = choice("Test digit", ("Test digit", "Upload a PNG", "Edit pixels"))
    pcnn_l_index: int = whole(0, 0, 499, "the test digit must be a whole number from 0 to 499")
    pcnn_l_label: str = choice(NO_LABEL, tuple(LABEL_CHOICES))
    pcnn_l_dx: int = whole(1, -8, 8, "the shift must be a whole number from -8 to 8")
    pcnn_l_dy: int = whole(1, -8, 8, "the shift must be a whole number from -8 to 8")
    pcnn_l_noise_seed: int = whole(0, 0, MAX_SEED, f"the noise seed must be {SEED_WORDS}")
    pcnn_l_text: str = text("", 28 * 29, "the typed pixels")  # "": start from the test digit chosen
    pcnn_presenter: bool = flag(False)  # presenter view


TOUR_STEPS = 17  # the tour's steps (core.lessons.tour.STEPS checks it)


@dataclass(frozen=True)
class TourState:
    """The tour: the step a student is on."""

    tour_step: int = whole(1, 1, TOUR_STEPS, f"the step must be a whole number from 1 to {TOUR_STEPS}")
    tour_presenter: bool = flag(False)  # presenter view
