"""Figures of the live-sampling lesson: one step's distribution stage by stage, the generated text
coloured by probability, and the time per token with and without the key/value cache.

Plain functions: data in, ``plotly.graph_objects.Figure`` out; the data each figure draws is built
by a separate function (``distribution_view``, ``strip_cells``) that a test can check number by number.
Bar and line colours are mid-tones that read on both Streamlit themes; the token strip is plain
markdown in Streamlit's own background colours, which follow the theme.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import plotly.graph_objects as go
import torch

from core.display import VISIBLE, escape_markdown, visible
from core.lessons.drift import Drift
from core.lessons.kv_timing import Fit, KVTimingResult, polynomial_text
from core.lessons.sampling_session import History
from core.lessons.stream_timing import StreamTiming
from core.text.sampling import SamplingStages
from core.text.vocab import Vocab

RAW_COLOUR = "#9A9A9A"  # the model's own distribution (temperature 1, nothing cut)
FINAL_COLOUR = "#E69F00"  # Okabe-Ito orange: the last stage, what is actually sampled from
SAMPLED_BAND = "rgba(250, 200, 40, 0.30)"  # behind the sampled token's bars
CACHED_COLOUR = "#4C8BD6"
UNCACHED_COLOUR = "#E8804A"
SHAKESPEARE_TOP = 20  # bars shown before the "rest" bar when the vocabulary is large

SPACE_MARK = VISIBLE[" "]
NEWLINE_MARK = VISIBLE["\n"]


def _figure(data: list[dict], layout: dict) -> go.Figure:
    """Wrap a figure spec without plotly's per-property validation.

    Validation costs about 50 ms per figure, a third of this page's rerun budget, and every spec
    here is fixed code: the unit tests rebuild each figure with validation on to catch any typo.
    """
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _escape(text: str) -> str:
    """Plotly text is HTML-like: show '<', '>' and '&' literally (tokens such as <s>)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def token_name(vocab: Vocab, token_id: int) -> str:
    """A token as a student reads it: visible marks for space and newline, specials named."""
    if token_id == vocab.eos_id:
        return "'.' end" if vocab.eos_id == vocab.bos_id else "<end>"
    text = vocab.token_text(token_id)
    if token_id in vocab.input_only_ids:
        return f"{text} start"
    if text == " ":
        return f"{SPACE_MARK} space"
    if text == "\n":
        return f"{NEWLINE_MARK} newline"
    return visible(text)


def _axis_label(vocab: Vocab, token_id: int) -> str:
    """Tick label: the character, or a visible mark (␣, ⏎); the end token also says "end"."""
    if token_id == vocab.eos_id:
        return "'.'<br>end" if vocab.eos_id == vocab.bos_id else "&lt;end&gt;"
    return _escape(tile_text(vocab, token_id))  # a word would not fit under a bar: the hover names it


def tile_text(vocab: Vocab, token_id: int) -> str:
    """A token as one tile of the strip: its text with blanks made visible (the names end token as '.')."""
    if token_id == vocab.eos_id:
        return "."
    return visible(vocab.token_text(token_id))


# ---------------------------------------------------------------------------------------------
# One step's distribution, one layer per stage of the chain

# Okabe & Ito's colour-blind-safe palette, one colour per stage; what is sampled from is always orange.
STAGE_COLOURS = {
    "raw": RAW_COLOUR,
    "penalties": "#CC79A7",  # reddish purple
    "temperature": "#56B4E9",  # sky blue
    "top_k": "#009E73",  # bluish green
    "top_p": "#0072B2",  # blue
    "min_p": "#7A5195",  # violet (darker than the purple above)
    "typical_p": "#8C6D1F",  # brown (the palette's yellow is unreadable on white)
}
STAGE_LABELS = {
    "raw": "model (T = 1)",
    "penalties": "after penalties",
    "temperature": "after temperature",
    "top_k": "after top-k",
    "top_p": "after top-p",
    "min_p": "after min-p",
    "typical_p": "after typical",
}
DRAWS_COLOUR = "#D55E00"  # vermillion diamonds: how often each token came up in N draws


@dataclass(frozen=True)
class DistributionView:
    """The bars of one step, most probable first: one layer per stage of the chain, raw first."""

    token_ids: list[int | None]  # None for the "rest" bar
    names: list[str]  # token_name of each bar, or "rest (n others)"
    layers: list[tuple[str, list[float]]]  # (stage name, p of each bar), raw first, the sampled-from last
    sampled_index: int | None  # which bar holds the sampled token, if any
    rest_count: int  # tokens folded into the rest bar (0: no rest bar)
    frequencies: list[float] | None = None  # share of N draws per bar, when draws were made

    @property
    def raw(self) -> list[float]:
        return self.layers[0][1]

    @property
    def final(self) -> list[float]:
        return self.layers[-1][1]

    def layer(self, name: str) -> list[float]:
        return dict(self.layers)[name]


def layer_label(name: str, last: bool) -> str:
    """A stage's legend entry; the last stage says it is what tokens are drawn from."""
    label = STAGE_LABELS[name]
    return f"{label} = sampled from" if last and name == "raw" else f"{label} (sampled from)" if last else label


def distribution_view(
    stages: SamplingStages,
    vocab: Vocab,
    sampled_id: int | None = None,
    top_n: int | None = None,
    counts: torch.Tensor | None = None,
) -> DistributionView:
    """Bars for every predictable token, sorted by the model's probability (ties: lower id first).

    With ``top_n``, only the ``top_n`` most probable get a bar (plus the sampled token if it is not
    among them) and everything else is summed, layer by layer, into one "rest" bar. ``counts`` (V,)
    are draws per token (``empirical_counts``), shown as frequencies beside the last layer.
    """
    never = list(vocab.input_only_ids)  # read only, probability exactly 0: no bar
    keys = stages.raw.clone()
    keys[never] = -1.0  # sorted last, then dropped
    order = torch.sort(keys, descending=True, stable=True).indices  # most probable first, ties: lower id
    order = order[: len(order) - len(never)].tolist()
    shown = order if top_n is None or len(order) <= top_n + 1 else order[:top_n]
    if sampled_id is not None and sampled_id not in shown:
        shown = shown + [sampled_id]
    ids: list[int | None] = list(shown)
    names = [token_name(vocab, i) for i in shown]
    columns = list(stages.stages) or [("raw", stages.raw), ("final", stages.final)]
    if counts is not None:
        columns.append(("draws", counts.to(torch.float64) / counts.sum()))
    values = [v[shown].tolist() for _, v in columns]
    rest_count = len(order) - len(shown)
    if rest_count:
        rest = torch.ones(len(keys), dtype=torch.bool)
        rest[never] = False
        rest[shown] = False
        ids.append(None)
        names.append(f"rest ({rest_count:,} others)")
        for vs, (_, v) in zip(values, columns, strict=True):
            vs.append(float(v[rest].sum()))
    frequencies = values.pop() if counts is not None else None
    columns = columns[: len(values)]  # the draws column is not a stage
    return DistributionView(
        token_ids=ids,
        names=names,
        layers=[(name, vs) for (name, _), vs in zip(columns, values, strict=True)],
        sampled_index=None if sampled_id is None else ids.index(sampled_id),
        rest_count=rest_count,
        frequencies=frequencies,
    )


def distribution_figure(
    view: DistributionView, vocab: Vocab, title: str = "", height: int | None = None, draws: int = 0
) -> go.Figure:
    """Grouped bars per token, one per stage; the sampled token banded; N draws' frequencies as diamonds."""
    x = list(range(len(view.token_ids)))
    ticks = [
        _axis_label(vocab, i) if i is not None else f"rest<br>({view.rest_count:,})"
        for i in view.token_ids  # the rest bar is labelled by how many tokens it sums
    ]
    words = max((len(_axis_label(vocab, i)) for i in view.token_ids if i not in (None, vocab.eos_id)), default=1) > 2
    # sub-word tokens are words: slanted labels keep them apart (characters fit upright under their bars)
    names = [_escape(n) for n in view.names]
    data = []
    for j, (stage, ys) in enumerate(view.layers):
        last = j == len(view.layers) - 1
        label = layer_label(stage, last)
        data.append(
            dict(
                type="bar",
                x=x,
                y=ys,
                name=label,
                marker=dict(color=FINAL_COLOUR if last and stage != "raw" else STAGE_COLOURS[stage]),
                customdata=names,
                hovertemplate=f"%{{customdata}}<br>{label}: %{{y:.4f}}<extra></extra>",
                meta=dict(label="token"),  # its numbers table's first column
            )
        )
    tops = [max(ys) for _, ys in view.layers]
    if view.frequencies is not None:
        label = f"share of {draws:,} draws"
        data.append(
            dict(
                type="scatter",
                mode="markers",
                x=x,
                y=[f if f > 0 else None for f in view.frequencies],  # a token never drawn gets no diamond
                name=label,
                marker=dict(symbol="diamond", size=13, color=DRAWS_COLOUR, line=dict(width=1.5, color="#000000")),
                customdata=names,
                hovertemplate=f"%{{customdata}}<br>{label}: %{{y:.4f}}<extra></extra>",
            )
        )
        tops.append(max(view.frequencies))
    top = max(tops)
    shapes, annotations = [], []
    if view.sampled_index is not None:
        s = view.sampled_index
        shapes.append(
            dict(
                type="rect",
                x0=s - 0.5,
                x1=s + 0.5,
                y0=0,
                y1=1,
                yref="paper",
                xref="x",
                fillcolor=SAMPLED_BAND,
                line=dict(width=0),
                layer="below",
            )
        )
        annotations.append(
            dict(x=s, y=top * 1.12, text="<b>sampled</b>", showarrow=False, font=dict(size=15), yanchor="bottom")
        )
    layout = dict(
        barmode="group",
        bargap=0.18,
        bargroupgap=0.05,
        xaxis=dict(
            tickmode="array",
            tickvals=x,
            ticktext=ticks,
            tickfont=dict(size=18 if height else 15),
            tickangle=-40 if words else 0,
            range=[-0.6, len(x) - 0.4],
        ),
        yaxis=dict(title=dict(text="probability", font=dict(size=15)), range=[0, top * 1.25], tickfont=dict(size=14)),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0, font=dict(size=15)),
        showlegend=True,  # also for a single layer: the legend says what is sampled from
        margin=dict(l=70, r=10, t=80 if title else 30, b=80 if words else 50),
        height=height or (275 if words else 265) + 24 * max(0, len(data) - 3),  # room for a longer legend
        hoverlabel=dict(font=dict(size=15)),
        shapes=shapes,
        annotations=annotations,
    )
    if title:
        layout["title"] = dict(text=_escape(title), font=dict(size=17))
    return _figure(data, layout)


# ---------------------------------------------------------------------------------------------
# The text, coloured token by token


@dataclass(frozen=True)
class StripToken:
    text: str  # tile_text of the token
    p_model: float | None  # p(token | context) under the model; None for prompt text
    p_sampled: float | None  # p under the distribution it was drawn from
    forced: bool = False
    step: int | None = None  # 1-based step number of a generated token
    newline: bool = False  # the row breaks after this tile


def _ends_line(vocab: Vocab, token_id: int) -> bool:
    """The token's own text ends with a newline (a character "\n", or a sub-word token such as ".\n\n")."""
    return token_id not in vocab.input_only_ids and vocab.decode([token_id]).endswith("\n")


def history_strip(history: History, vocab: Vocab) -> list[StripToken]:
    """The prompt (without the start token) and every generated token, ready for the strip."""
    tokens = [
        StripToken(text=tile_text(vocab, i), p_model=None, p_sampled=None, newline=_ends_line(vocab, i))
        for i in history.prompt_ids[1:]
    ]
    for n, e in enumerate(history.entries, start=1):
        i = e.step.token_id
        tokens.append(
            StripToken(
                text=tile_text(vocab, i),
                p_model=e.p_model,
                p_sampled=e.p_sampled,
                forced=e.forced,
                step=n,
                newline=_ends_line(vocab, i),
            )
        )
    return tokens


# The strip's backgrounds: Streamlit's own markdown colours (they follow the light and dark theme),
# one per band of p under the model. Orange / grey / blue stay apart under every common colour-vision
# deficiency (the former orange / yellow / green bands collapsed into one tone for deuteranopes).
TILE_BANDS = ((0.2, "orange"), (0.6, "gray"), (math.inf, "blue"))
PROMPT_BAND = None  # the prompt is plain text, not a tile
STRIP_LEGEND = "Tile colour = p under the model: orange < 0.2 · grey 0.2–0.6 · blue ≥ 0.6. Plain text: the prompt."
STRIP_MAX_CHARS = 160  # the strip shows the text's tail (two lines at 1280 px): the chart stays in view
STRIP_MAX_LINES = 2
PRESENTER_STRIP_CHARS = 48  # presenter view: one line of heading-size tiles at 1280 px, the chart below in view


def tile_band(p: float | None) -> str | None:
    """The markdown colour of one tile: None for the prompt (no tile), else the band p falls in."""
    if p is None:
        return PROMPT_BAND
    return next(colour for upper, colour in TILE_BANDS if p < upper)


def token_strip_markdown(
    tokens: list[StripToken], max_chars: int | None = STRIP_MAX_CHARS, heading: bool = False, max_lines: int = 0
) -> str:
    """The text as tiles in one markdown block: prompt plain, each generated token's background its band of p.

    Plain markdown (no HTML): every token is escaped and wrapped in Streamlit's
    ``:colour-background[:colour[...]]`` (a tint behind text of the same colour, as the theme draws
    them); a forced token is bold. Lines break after each newline token and
    may wrap only between words (a zero-width space before each token that starts with a space),
    never inside one. One block, replaced in place on every step, keeps auto-play from flickering.
    Past ``max_chars`` characters or ``max_lines`` lines (0: STRIP_MAX_LINES) only the tail is shown, after "… ".
    ``heading``: every line a level-3 heading (presenter view's size; a heading ends at its line, so one
    "### " in front would leave the lines after a newline token at body size).
    """
    out = []
    if max_chars is not None:  # the tail: at most max_chars characters and STRIP_MAX_LINES lines
        total, first, breaks = 0, len(tokens), 0
        while first > 0 and total + len(tokens[first - 1].text) <= max_chars:
            breaks += tokens[first - 1].newline and first < len(tokens)
            if breaks >= (max_lines or STRIP_MAX_LINES):
                break
            first -= 1
            total += len(tokens[first].text)
        if first:
            out.append("… ")
        tokens = tokens[first:]
    for i, tok in enumerate(tokens):
        text = escape_markdown(tok.text)
        if tok.forced:
            text = f"**{text}**"
        starts_word = tok.text.startswith(SPACE_MARK) and tok.text != SPACE_MARK  # a sub-word token " Paris"
        if i and (starts_word or tokens[i - 1].text.endswith(SPACE_MARK)):
            out.append("\u200b")  # the line may break here, between words
        band = tile_band(tok.p_model)
        # the text in the band's colour too: readable on a projector
        out.append(text if band is None else f":{band}-background[:{band}[{text}]]")
        if tok.newline:
            out.append("  \n")
    text = "".join(out)
    if not heading:
        return text
    lines = text.split("  \n")
    if len(lines) > 1 and not lines[-1]:
        lines.pop()  # a text ending in a newline: no empty heading under it (it would take a line's height)
    return "\n".join(f"### {line}" for line in lines)


# ---------------------------------------------------------------------------------------------
# Why caching matters


def kv_timing_figure(result: KVTimingResult) -> go.Figure:
    """Milliseconds per token against its position, with and without the key/value cache."""
    data = [
        dict(
            type="scatter",
            x=xs,
            y=ys,
            name=name,
            mode="lines+markers",
            line=dict(color=colour, width=3),
            marker=dict(size=5),
            hovertemplate="position %{x}: %{y:.2f} ms<extra>" + name + "</extra>",
        )
        for name, xs, ys, colour in (
            ("without cache (recompute the prefix)", result.uncached_positions, result.uncached_ms, UNCACHED_COLOUR),
            ("with key/value cache", result.cached_positions, result.cached_ms, CACHED_COLOUR),
        )
    ]
    layout = dict(
        xaxis=dict(title=dict(text="position of the generated token", font=dict(size=15)), tickfont=dict(size=14)),
        yaxis=dict(
            title=dict(text="milliseconds per token", font=dict(size=15)), rangemode="tozero", tickfont=dict(size=14)
        ),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0, font=dict(size=15)),
        margin=dict(l=70, r=20, t=40, b=60),
        height=340,
        hoverlabel=dict(font=dict(size=15)),
    )
    return _figure(data, layout)


def kv_totals_figure(result: KVTimingResult, uncached_fit: Fit, cached_fit: Fit) -> go.Figure:
    """Milliseconds to generate 1..n tokens (cumulative sums of the steps), measured as dots, fitted as lines."""
    data = []
    for name, totals, fit, colour, shape in (
        ("without cache", result.uncached_totals_ms, uncached_fit, UNCACHED_COLOUR, "quadratic"),
        ("with cache", result.cached_totals_ms, cached_fit, CACHED_COLOUR, "line"),
    ):
        n = list(range(1, len(totals) + 1))
        data.append(
            dict(
                type="scatter", x=n, y=totals, name=f"{name}: measured total", mode="markers",
                marker=dict(color=colour, size=6, opacity=0.6),
                hovertemplate="%{x} tokens: %{y:.1f} ms<extra>" + name + "</extra>",
            )
        )  # fmt: skip
        data.append(
            dict(
                type="scatter", x=n, y=fit(n).tolist(), name=f"{name}: fitted {shape} (R² = {fit.r2:.3f})",
                mode="lines", line=dict(color=colour, width=3, dash="dash" if shape == "line" else "solid"),
                hovertemplate=f"{polynomial_text(fit)}<br>" + "n = %{x}: %{y:.1f} ms<extra></extra>",
            )
        )  # fmt: skip
    layout = dict(
        xaxis=dict(title=dict(text="tokens generated, n", font=dict(size=15)), tickfont=dict(size=14)),
        yaxis=dict(
            title=dict(text="total milliseconds", font=dict(size=15)), rangemode="tozero", tickfont=dict(size=14)
        ),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0, font=dict(size=14)),
        margin=dict(l=70, r=20, t=70, b=60),
        height=380,
        hoverlabel=dict(font=dict(size=15)),
    )
    return _figure(data, layout)


# ---------------------------------------------------------------------------------------------
# Streaming, measured

FIRST_COLOUR = "#CC79A7"  # Okabe-Ito reddish purple: the prompt pass
LATER_COLOUR = "#0072B2"  # blue: one token from the cache
LATENCY_COLOUR = "#9A9A9A"


def step_times_figure(timing: StreamTiming) -> go.Figure:
    """Each drawn step's own time (bars; step 1 = the prompt pass) and the latency to each token (line)."""
    steps = list(range(1, len(timing.steps_ms) + 1))
    latency = list(itertools.accumulate(timing.steps_ms))  # first + sum of later steps, token by token
    bar = "step %{x}: %{y:.2f} ms, %{customdata} token(s) fed<extra></extra>"
    data = [
        dict(
            type="bar", x=steps[:1], y=[timing.first_ms], name="first token: the prompt pass",
            marker=dict(color=FIRST_COLOUR), customdata=[timing.first_fed], hovertemplate=bar,
        ),
        dict(
            type="bar", x=steps[1:], y=list(timing.later_ms), name="each later token",
            marker=dict(color=LATER_COLOUR), customdata=list(timing.later_fed), hovertemplate=bar,
        ),
        dict(
            type="scatter", x=steps, y=latency, name="latency to this token", yaxis="y2", mode="lines+markers",
            line=dict(color=LATENCY_COLOUR, width=2), marker=dict(size=4),
            hovertemplate="token %{x} ready after %{y:.1f} ms<extra></extra>",
        ),
    ]  # fmt: skip
    layout = dict(
        xaxis=dict(title=dict(text="generated token (1 = the prompt pass)", font=dict(size=13)), tickfont=dict(size=12)),
        yaxis=dict(title=dict(text="ms per step", font=dict(size=13)), rangemode="tozero", tickfont=dict(size=12)),
        yaxis2=dict(
            title=dict(text="ms since the start", font=dict(size=13)), overlaying="y", side="right",
            rangemode="tozero", tickfont=dict(size=12), showgrid=False,
        ),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0, font=dict(size=13)),
        margin=dict(l=60, r=60, t=40, b=50),
        height=240,
        bargap=0.15,
        barmode="overlay",
        hoverlabel=dict(font=dict(size=14)),
    )  # fmt: skip
    return _figure(data, layout)


# ---------------------------------------------------------------------------------------------
# What a step carries


def carried_state_figure(states: list) -> go.Figure:
    """Bytes each network's decoding state holds after each position (one line per network)."""
    colours = ["#0072B2", "#CC79A7", "#E69F00", "#009E73", "#999999"]
    data = [
        dict(
            type="scatter",
            x=s.positions,
            y=[b / 1024 for b in s.nbytes],
            name=_escape(s.model),
            mode="lines+markers",
            line=dict(color=colour, width=3),
            marker=dict(size=6),
            customdata=s.step_ms,
            hovertemplate="position %{x}: %{y:.2f} KiB, step %{customdata:.2f} ms<extra>"
            + _escape(s.model)
            + "</extra>",
        )
        for s, colour in zip(states, colours * 2, strict=False)
    ]
    layout = dict(
        xaxis=dict(title=dict(text="position of the token just read", font=dict(size=15)), tickfont=dict(size=14)),
        yaxis=dict(
            title=dict(text="state carried to the next step, KiB", font=dict(size=15)),
            rangemode="tozero",
            tickfont=dict(size=14),
        ),  # fmt: skip
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0, font=dict(size=15)),
        margin=dict(l=70, r=20, t=40, b=60),
        height=340,
        hoverlabel=dict(font=dict(size=15)),
    )
    return _figure(data, layout)


# ---------------------------------------------------------------------------------------------
# Drift: two continuations from one fork (core.lessons.drift)

DRAWN_COLOUR = "#0072B2"  # Okabe-Ito blue: A, the continuation as drawn
FORCED_COLOUR = "#D55E00"  # vermillion: B, the alternative forced at the fork
KL_COLOUR = "#7A5195"  # violet: how far apart the two next-token distributions are
DRIFT_CONTEXT_SHOWN = 3  # context tokens shown before the fork, the same in both rows
# tile tints of the aligned strips, one per band of TILE_BANDS (light: the text on them stays black in both themes)
BAND_TINTS = {"orange": "#F7CF94", "gray": "#D9D9D9", "blue": "#A9CDEB", None: "#FFFFFF"}  # None: the context


def drift_strips(vocab: Vocab, result: Drift) -> tuple[list[StripToken], list[StripToken]]:
    """A's and B's tokens from the fork on as strip tiles (p under the model); B's forced token is bold."""

    def strip(token_ids, logprobs, forced_first):
        return [
            StripToken(
                text=tile_text(vocab, i),
                p_model=math.exp(lp),
                p_sampled=None,
                forced=forced_first and k == 0,
                step=k + 1,
                newline=_ends_line(vocab, i),
            )
            for k, (i, lp) in enumerate(zip(token_ids, logprobs, strict=True))
        ]

    return (
        strip(result.drawn.token_ids, result.drawn.logprobs, False),
        strip(result.forced.token_ids, result.forced.logprobs, True),
    )


def _cell_text(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters (an ellipsis ends it when there is room for one)."""
    if len(text) <= width:
        return text
    return text[: width - 1] + "…" if width >= 3 else text[:width]


def drift_figure(vocab: Vocab, result: Drift, context: list[int], height: int = 430) -> go.Figure:
    """Three rows on one x axis (the position in the text): the two continuations as aligned tiles (A above B,
    the fork outlined, the last context tokens before it), log p of each continuation's own token, and
    KL(p_A || p_B) of the model's two next-token distributions at each position (0 at the fork: one context).
    """
    a, b = result.drawn, result.forced
    before = context[1:][-DRIFT_CONTEXT_SHOWN:]  # the start token (position 0) is not text
    first = result.fork - len(before)
    last = result.fork + max(len(a.token_ids), len(b.token_ids))
    xs = list(range(first, last))
    width = max(1, 110 // max(len(xs), 1))  # characters a cell holds in ~1000 px (hover: the whole token)
    rows, texts, hovers = [], [], []
    for run in (b, a):  # the heatmap's first row is drawn at the bottom: B below A
        ids = before + list(run.token_ids)
        ps = [None] * len(before) + [math.exp(lp) for lp in run.logprobs]
        band_value = {"orange": 0, "gray": 1, "blue": 2, None: 3}  # the context: white tiles
        rows.append([band_value[tile_band(p)] for p in ps] + [None] * (len(xs) - len(ids)))
        texts.append([_escape(_cell_text(tile_text(vocab, i), width)) for i in ids] + [""] * (len(xs) - len(ids)))
        hovers.append(
            [
                f"{_escape(token_name(vocab, i))}"
                + ("" if p is None else f"<br>p = {p:.3g} (log p = {math.log(p):.2f})")
                for i, p in zip(ids, ps, strict=True)
            ]
            + [""] * (len(xs) - len(ids))
        )
    colourscale = [  # one flat colour per band value 0..3
        [edge, tint] for j, tint in enumerate(BAND_TINTS.values()) for edge in (j / 4, (j + 1) / 4)
    ]
    kl = [k if math.isfinite(k) else None for k in result.kl]
    data = [
        dict(
            type="heatmap", x=xs, y=["B (forced)", "A (drawn)"], z=rows, zmin=-0.5, zmax=3.5, colorscale=colourscale,
            showscale=False, text=texts, texttemplate="%{text}", textfont=dict(size=13, color="#111111"),
            customdata=hovers, hovertemplate="%{y}, position %{x}: %{customdata}<extra></extra>",
            xgap=2, ygap=4, xaxis="x", yaxis="y",
        ),
        dict(
            type="scatter", x=list(range(result.fork, result.fork + len(a.logprobs))), y=list(a.logprobs),
            name="log p, A (drawn)", mode="lines+markers", line=dict(color=DRAWN_COLOUR, width=2),
            marker=dict(size=6), xaxis="x2", yaxis="y2",
            hovertemplate="A, position %{x}: log p = %{y:.2f}<extra></extra>",
        ),
        dict(
            type="scatter", x=list(range(result.fork, result.fork + len(b.logprobs))), y=list(b.logprobs),
            name="log p, B (forced)", mode="lines+markers", line=dict(color=FORCED_COLOUR, width=2, dash="dot"),
            marker=dict(size=6, symbol="diamond"), xaxis="x2", yaxis="y2",
            hovertemplate="B, position %{x}: log p = %{y:.2f}<extra></extra>",
        ),
        dict(
            type="bar", x=list(range(result.fork, result.fork + len(kl))), y=kl, name="KL(p_A ‖ p_B)",
            marker=dict(color=KL_COLOUR), xaxis="x3", yaxis="y3",
            hovertemplate="position %{x}: KL(p_A ‖ p_B) = %{y:.3f} nats<extra></extra>",
        ),
    ]  # fmt: skip
    x_range = [first - 0.5, last - 0.5]
    axis_font = dict(size=13)
    layout = dict(
        xaxis=dict(range=x_range, showticklabels=False, showgrid=False, zeroline=False),
        yaxis=dict(domain=[0.75, 1.0], tickfont=axis_font, fixedrange=True),
        xaxis2=dict(range=x_range, matches="x", showticklabels=False, anchor="y2"),
        yaxis2=dict(domain=[0.38, 0.64], title=dict(text="log p", font=axis_font), tickfont=axis_font),
        xaxis3=dict(
            range=x_range, matches="x", anchor="y3", tickfont=axis_font,
            title=dict(text="position in the text (the fork outlined)", font=axis_font),
        ),
        yaxis3=dict(domain=[0.0, 0.3], title=dict(text="KL, nats", font=axis_font), tickfont=axis_font,
                    rangemode="tozero"),
        shapes=[
            dict(type="rect", xref="x", yref="y domain", x0=result.fork - 0.5, x1=result.fork + 0.5, y0=-0.02,
                 y1=1.02, line=dict(color=FORCED_COLOUR, width=3)),
            dict(type="line", xref="x", yref="paper", x0=result.fork - 0.5, x1=result.fork - 0.5, y0=0, y1=1,
                 line=dict(color=FORCED_COLOUR, width=1, dash="dash")),
        ],
        legend=dict(orientation="h", yanchor="bottom", y=0.655, xanchor="right", x=1, font=axis_font,
                    bgcolor="rgba(0,0,0,0)"),
        margin=dict(l=90, r=20, t=10, b=50),
        height=height,
        bargap=0.2,
        hoverlabel=dict(font=dict(size=14)),
    )  # fmt: skip
    return _figure(data, layout)
