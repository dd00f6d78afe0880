"""Figures of the live-sampling lesson: one step's distribution stage by stage, the generated text
coloured by probability, and the time per token with and without the key/value cache.

Plain functions: data in, ``plotly.graph_objects.Figure`` out; the data each figure draws is built
by a separate function (``distribution_view``, ``strip_cells``) that a test can check number by number.
Bar and line colours are mid-tones that read on both Streamlit themes; the token strip is plain
markdown in Streamlit's own background colours, which follow the theme.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import plotly.graph_objects as go
import torch

from core.display import VISIBLE, escape_markdown, visible
from core.lessons.kv_timing import KVTimingResult
from core.lessons.sampling_session import History
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
        height=height or (300 if words else 290) + 24 * max(0, len(data) - 3),  # room for a longer legend
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


def tile_band(p: float | None) -> str | None:
    """The markdown colour of one tile: None for the prompt (no tile), else the band p falls in."""
    if p is None:
        return PROMPT_BAND
    return next(colour for upper, colour in TILE_BANDS if p < upper)


def token_strip_markdown(tokens: list[StripToken], max_chars: int | None = STRIP_MAX_CHARS) -> str:
    """The text as tiles in one markdown block: prompt plain, each generated token's background its band of p.

    Plain markdown (no HTML): every token is escaped and wrapped in Streamlit's
    ``:colour-background[:colour[...]]`` (a tint behind text of the same colour, as the theme draws
    them); a forced token is bold. Lines break after each newline token and
    may wrap only between words (a zero-width space before each token that starts with a space),
    never inside one. One block, replaced in place on every step, keeps auto-play from flickering.
    Past ``max_chars`` characters or STRIP_MAX_LINES lines only the tail is shown, after "… ".
    """
    out = []
    if max_chars is not None:  # the tail: at most max_chars characters and STRIP_MAX_LINES lines
        total, first, breaks = 0, len(tokens), 0
        while first > 0 and total + len(tokens[first - 1].text) <= max_chars:
            breaks += tokens[first - 1].newline and first < len(tokens)
            if breaks >= STRIP_MAX_LINES:
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
    return "".join(out)


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
