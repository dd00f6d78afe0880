"""The tour: the lesson in order, one short step at a time. No streamlit here.

Each step is a few sentences in our own words, at most one live element drawn inline by the tour page
(``live`` names it: ``pages/tour_live.py`` computes it with ``core`` when the step is shown), a scene
that opens the page where the idea is shown in full, in the right state (``core.lessons.scenes``), and
where it fits a predict-then-check question (``question`` names a generator of
``core.lessons.questions``). The step a student is on is the tour page's state: ``?tour_step=5``.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.lessons.scenes import Scene
from core.lessons.settings import MAX_SPEED
from core.lessons.states import (
    TOUR_STEPS,
    AttentionState,
    ChainRuleState,
    PixelState,
    SamplingState,
    TrainingState,
)

LIVE_ELEMENTS = ("worked", "draws", "ledger", "one_pass", "mask", "temperature")
QUESTIONS = ("chain_rule_nll", "chain_rule_ordering", "attention_mask_zeros", "pixel_bits_per_dim", "sampling_greedy")


@dataclass(frozen=True)
class Step:
    title: str
    words: str  # two to five sentences, markdown
    scene: Scene | None = None  # "Open this": the page in a state that shows the idea in full
    live: str | None = None  # one of LIVE_ELEMENTS, drawn inline
    question: str | None = None  # one of QUESTIONS

    def __post_init__(self):
        if self.live is not None and self.live not in LIVE_ELEMENTS:
            raise ValueError(f"unknown live element {self.live!r}")
        if self.question is not None and self.question not in QUESTIONS:
            raise ValueError(f"unknown question {self.question!r}")


CHAIN = ChainRuleState()
STEPS: tuple[Step, ...] = (
    Step(
        "One identity",
        "Any joint distribution over a sequence is a product of conditionals: p(x1) times p(x2 | x1) times "
        "p(x3 | x1, x2), and so on. Nothing is assumed; it is the definition of a conditional probability, "
        "applied again and again. Move the three factors below: the probability of the whole sequence is "
        "their product.",
        Scene("Chain rule · the worked example", "chain_rule", CHAIN, "the product and the sum"),
        live="worked",
    ),
    Step(
        "Sampling through the factors",
        "To draw a whole sequence you never need the joint itself: draw x1 from p(x1), then x2 from p(x2 | x1), "
        "then x3 given both. Each sequence comes out with probability equal to the product of its factors, "
        "which is the joint. Below, the same joint is sampled many times one factor at a time.",
        Scene("Chain rule · 100,000 draws", "chain_rule", ChainRuleState(cr_draws=100_000), "frequencies vs joint"),
        live="draws",
    ),
    Step(
        "Likelihood by plugging in",
        "Run the other way, the same product scores a sequence someone else wrote: read it position by position "
        "and multiply the probability the model gave each actual token. One pass, and the number is exact for "
        "that model.",
        Scene("Chain rule · a ledger", "chain_rule", ChainRuleState(cr_ledger_text="olivia"), "the ledger chart"),
        live="ledger",
    ),
    Step(
        "The B-A-C example",
        "With p(B) = 0.4, p(A | B) = 0.5 and p(C | B, A) = 0.6 the sequence B, A, C has probability 0.12. "
        "Logs turn that product into a sum of three costs, one per position. Predict the total, then check.",
        Scene("Chain rule · the worked example in bits", "chain_rule", ChainRuleState(cr_unit="bits"), "the ledger"),
        question="chain_rule_nll",
    ),
    Step(
        "NLL is a sum",
        "−log p(x) is the sum of −log p(x_i | x_<i) over the positions: a ledger where each token pays for its "
        "surprise. The order of the positions does not matter to the identity; every order gives back the "
        "same joint.",
        Scene("Chain rule · factored in another order", "chain_rule", ChainRuleState(cr_order=(2, 0, 1)), "orders"),
        question="chain_rule_ordering",
    ),
    Step(
        "One network for every conditional",
        "An autoregressive model does not keep one table per position. One network reads the prefix and outputs "
        "the next-token distribution, and in one forward pass over a text it gives the conditional at every "
        "position at once. Below: one pass of the names model over a name, every conditional's favourite.",
        Scene("Attention · the learned heads", "attention", AttentionState(), "the attention maps"),
        live="one_pass",
    ),
    Step(
        "Causality and the mask",
        "For that to be honest, the prediction at position i may read positions up to i and never beyond: a "
        "causal mask sets the attention to later positions to exactly zero. Row i reads token i and predicts "
        "token i+1.",
        Scene("Attention · the causal mask", "attention", AttentionState(attention_text="isabella"), "the mask"),
        live="mask",
        question="attention_mask_zeros",
    ),
    Step(
        "The leaky model",
        "Take the mask away and training looks wonderful: each position can read the very token it must "
        "predict. Sampling then fails, because at generation time that token does not exist yet. The page "
        "shows a model trained that way.",
        Scene("Attention · names-leaky", "attention", AttentionState(attention_model="names-leaky"), "peeking"),
    ),
    Step(
        "Training is the ledger, averaged",
        "Training minimises the average −log p(next token | prefix) over every position of every example: the "
        "next-token cross-entropy. It is the ledger of the chain rule, averaged, so a lower loss is a higher "
        "likelihood.",
        Scene("Training · the loss is the ledger", "training", TrainingState(training_ledger_seed=1), "the heatmap"),
    ),
    Step(
        "Pixels in raster order",
        "Nothing here is special to text. An image is a sequence of pixels read row by row, and PixelCNN "
        "predicts each from the ones before with masked convolutions. Its first mask hides the pixel being "
        "predicted, because its output at a pixel predicts that same pixel.",
        Scene("PixelCNN · raster order", "pixelcnn", PixelState(pcnn_raster_i=30), "the raster order"),
        question="pixel_bits_per_dim",
    ),
    Step(
        "The blind spot",
        "Stacked 3×3 masks in the plain PixelCNN never reach a wedge of earlier pixels up and to the right. "
        "The model is still a valid chain-rule model, with conditionals that ignore those pixels. The gated "
        "PixelCNN's two stacks close the gap.",
        Scene("PixelCNN · receptive field", "pixelcnn", PixelState(pcnn_rf_layers=8), "the red wedge"),
    ),
    Step(
        "The cost of sampling",
        "Sampling is sequential: each token needs a forward pass over everything before it. Done naively, the "
        "total work grows with the square of the length. Keeping each layer's keys and values (the KV cache) "
        "makes each new token's pass cheap.",
        Scene("Live sampling · the KV cache", "sampling", SamplingState(model="shakespeare"), "why caching matters"),
    ),
    Step(
        "Streaming",
        "The first token waits for one pass over the prompt; every later token for one more step. That is why "
        "answers appear word by word: the model's own pace, not a choice of the interface.",
        Scene(
            "Live sampling · as fast as the model can",
            "sampling",
            SamplingState(model="shakespeare", prompt="ROMEO:", speed=MAX_SPEED),
            "press Play: the first token's time, then each step's",
        ),
    ),
    Step(
        "Knobs change the joint",
        "Temperature, top-k and top-p reshape every conditional before the draw. The samples then come from "
        "another joint: only at temperature 1 with nothing cut do they follow the model's own. Move the "
        "temperature below and watch one conditional sharpen or flatten.",
        Scene("Chain rule · draws at temperature 2", "chain_rule", ChainRuleState(cr_draw_temperature=2.0), ""),
        live="temperature",
        question="sampling_greedy",
    ),
    Step(
        "Likelihood at work",
        "Because the number is exact, it can be used: compare two models on the same text, let two prompts "
        "compete for a text, rank candidate answers. Other generative families give a bound, nothing, or a "
        "number that needs extra work.",
        Scene(
            "Chain rule · ranking answers by likelihood",
            "chain_rule",
            ChainRuleState(cr_rank_on=True),
            "SmolLM2 ranks candidate continuations of one prompt",
        ),
    ),
    Step(
        "Drift",
        "Every drawn token becomes context for all later ones, so one unlikely early choice moves every later "
        "conditional. A model trained only on real text never practised recovering from its own mistakes.",
        Scene(
            "Live sampling · what if one token were different",
            "sampling",
            SamplingState(model="shakespeare", prompt="ROMEO:", drift_on=True),
            "two continuations from one fork, and how far every later conditional moves",
        ),
    ),
    Step(
        "What to remember",
        "The factorisation is exact and only the conditionals are learned; the likelihood is a sum you can "
        "read, and training makes it small; generation is one step per token, each building on the last. "
        "The closing page shows each with a number computed now.",
    ),
)
assert len(STEPS) == TOUR_STEPS, "core.lessons.states.TOUR_STEPS must count the tour's steps"
