"""Figures of the live-sampling lesson: one step's distribution in three layers, the generated text
coloured by probability, and the time per token with and without the key/value cache.

Plain functions: data in, ``plotly.graph_objects.Figure`` out; the data each figure draws is built
by a separate function (``distribution_view``, ``strip_cells``) that a test can check number by number.
Bar and line colours are mid-tones that read on both Streamlit themes; the token tiles carry their
own light background and black text, so they read the same on a dark theme and on a projector.
"""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go

from core.display import VISIBLE
from core.lessons.kv_timing import KVTimingResult
from core.lessons.sampling_session import History
from core.text.sampling import SamplingStages
from core.text.vocab import Vocab

RAW_COLOUR = "#9A9A9A"  # the model's own distribution (temperature 1, nothing cut)
TEMPERED_COLOUR = "#4C8BD6"  # after temperature
FINAL_COLOUR = "#E8804A"  # after top-k and top-p: what is actually sampled from
SAMPLED_BAND = "rgba(250, 200, 40, 0.30)"  # behind the sampled token's bars
CACHED_COLOUR = "#4C8BD6"
UNCACHED_COLOUR = "#E8804A"
PROMPT_TILE = "#D0D0D0"  # given text: not sampled, no probability
TILE_TEXT = "#111111"  # black on every (light) tile, in both themes
# Tiles: low probability warm, high probability cool; light enough for black text at every value.
TILE_SCALE = [[0.0, "#F59A7A"], [0.25, "#FCCB8F"], [0.5, "#FDF2B0"], [0.75, "#CDE8C4"], [1.0, "#8FCFE8"]]
SHAKESPEARE_TOP = 20  # bars shown before the "rest" bar when the vocabulary is large
STRIP_COLUMNS = 24  # tiles per row of the token strip: about 30 px each in the page's main column
STRIP_ROW_PX = 46  # height of one row of tiles

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
    if token_id == vocab.bos_id:
        return "<s> start"
    ch = vocab.chars[token_id]
    if ch == " ":
        return f"{SPACE_MARK} space"
    if ch == "\n":
        return f"{NEWLINE_MARK} newline"
    return ch


def _axis_label(vocab: Vocab, token_id: int) -> str:
    """Tick label: the character, or a visible mark (␣, ⏎); the end token also says "end"."""
    if token_id == vocab.eos_id:
        return "'.'<br>end" if vocab.eos_id == vocab.bos_id else "&lt;end&gt;"
    return _escape(tile_text(vocab, token_id))  # a word would not fit under a bar: the hover names it


def tile_text(vocab: Vocab, token_id: int) -> str:
    """A token as one tile of the strip: the character itself, or a visible mark."""
    if token_id == vocab.eos_id:
        return "."
    ch = vocab.chars[token_id]
    return {" ": SPACE_MARK, "\n": NEWLINE_MARK}.get(ch, ch)


# ---------------------------------------------------------------------------------------------
# One step's distribution, three layers


@dataclass(frozen=True)
class DistributionView:
    """The bars of one step, most probable first, with the three layers' probabilities."""

    token_ids: list[int | None]  # None for the "rest" bar
    names: list[str]  # token_name of each bar, or "rest (n others)"
    raw: list[float]  # p under the model
    tempered: list[float]  # after temperature
    final: list[float]  # after top-k and top-p (sampled from)
    sampled_index: int | None  # which bar holds the sampled token, if any
    rest_count: int  # tokens folded into the rest bar (0: no rest bar)


def distribution_view(
    stages: SamplingStages, vocab: Vocab, sampled_id: int | None = None, top_n: int | None = None
) -> DistributionView:
    """Bars for every predictable token, sorted by the model's probability (ties: lower id first).

    With ``top_n``, only the ``top_n`` most probable get a bar (plus the sampled token if it is not
    among them) and everything else is summed, layer by layer, into one "rest" bar.
    """
    raw = stages.raw.tolist()
    tempered = stages.tempered.tolist()
    final = stages.final.tolist()
    never = set(vocab.input_only_ids)  # read only, probability exactly 0: no bar
    order = sorted((i for i in range(len(raw)) if i not in never), key=lambda i: (-raw[i], i))
    shown = order if top_n is None or len(order) <= top_n + 1 else order[:top_n]
    if sampled_id is not None and sampled_id not in shown:
        shown = shown + [sampled_id]
    rest = [i for i in order if i not in set(shown)]
    ids: list[int | None] = list(shown)
    names = [token_name(vocab, i) for i in shown]
    cols = {"raw": raw, "tempered": tempered, "final": final}
    layers = {k: [v[i] for i in shown] for k, v in cols.items()}
    if rest:
        ids.append(None)
        names.append(f"rest ({len(rest)} others)")
        for k, v in cols.items():
            layers[k].append(sum(v[i] for i in rest))
    return DistributionView(
        token_ids=ids,
        names=names,
        raw=layers["raw"],
        tempered=layers["tempered"],
        final=layers["final"],
        sampled_index=None if sampled_id is None else ids.index(sampled_id),
        rest_count=len(rest),
    )


def distribution_figure(view: DistributionView, vocab: Vocab, title: str = "") -> go.Figure:
    """Grouped bars per token: raw, after temperature, after truncation; the sampled token banded."""
    x = list(range(len(view.token_ids)))
    ticks = [
        _axis_label(vocab, i) if i is not None else f"rest<br>({view.rest_count})"
        for i in view.token_ids  # the rest bar is labelled by how many tokens it sums
    ]
    layers = [
        ("model (T = 1)", view.raw, RAW_COLOUR),
        ("after temperature", view.tempered, TEMPERED_COLOUR),
        ("after top-k / top-p (sampled from)", view.final, FINAL_COLOUR),
    ]
    names = [_escape(n) for n in view.names]
    data = [
        dict(type="bar", x=x, y=ys, name=name, marker=dict(color=colour), customdata=names,
             hovertemplate=f"%{{customdata}}<br>{name}: %{{y:.4f}}<extra></extra>")
        for name, ys, colour in layers
    ]  # fmt: skip
    top = max(max(view.raw), max(view.tempered), max(view.final))
    shapes, annotations = [], []
    if view.sampled_index is not None:
        s = view.sampled_index
        shapes.append(dict(type="rect", x0=s - 0.5, x1=s + 0.5, y0=0, y1=1, yref="paper", xref="x",
                           fillcolor=SAMPLED_BAND, line=dict(width=0), layer="below"))  # fmt: skip
        annotations.append(dict(x=s, y=top * 1.12, text="<b>sampled</b>", showarrow=False, font=dict(size=15),
                                yanchor="bottom"))  # fmt: skip
    layout = dict(
        barmode="group",
        bargap=0.18,
        bargroupgap=0.05,
        xaxis=dict(
            tickmode="array",
            tickvals=x,
            ticktext=ticks,
            tickfont=dict(size=15),
            tickangle=0,
            range=[-0.6, len(x) - 0.4],
        ),  # fmt: skip
        yaxis=dict(title=dict(text="probability", font=dict(size=15)), range=[0, top * 1.25], tickfont=dict(size=14)),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0, font=dict(size=15)),
        margin=dict(l=70, r=10, t=80 if title else 30, b=50),
        height=310,
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


@dataclass(frozen=True)
class StripCell:
    row: int
    col: int
    token: StripToken


def strip_cells(tokens: list[StripToken], columns: int = STRIP_COLUMNS) -> list[StripCell]:
    """Lay tiles out left to right, wrapping after ``columns`` tiles and after every newline."""
    cells, row, col = [], 0, 0
    for tok in tokens:
        if col == columns:
            row, col = row + 1, 0
        cells.append(StripCell(row, col, tok))
        col += 1
        if tok.newline:
            row, col = row + 1, 0
    return cells


def history_strip(history: History, vocab: Vocab) -> list[StripToken]:
    """The prompt (without the start token) and every generated token, ready for the strip."""
    tokens = [
        StripToken(text=tile_text(vocab, i), p_model=None, p_sampled=None, newline=vocab.chars[i] == "\n")
        for i in history.prompt_ids[1:]
    ]
    for n, e in enumerate(history.entries, start=1):
        i = e.step.token_id
        tokens.append(
            StripToken(
                text=tile_text(vocab, i),
                p_model=float(e.step.stages.raw[i]),
                p_sampled=float(e.step.stages.final[i]),
                forced=e.forced,
                step=n,
                newline=vocab.chars[i] == "\n",
            )
        )
    return tokens


def _hover(tok: StripToken) -> str:
    if tok.p_model is None:
        return f"prompt: {_escape(tok.text)}"
    lines = [f"step {tok.step}: {_escape(tok.text)}", f"p under the model = {tok.p_model:.4f}"]
    lines.append("forced (not sampled)" if tok.forced else f"p it was sampled with = {tok.p_sampled:.4f}")
    return "<br>".join(lines)


def token_strip_figure(tokens: list[StripToken], columns: int = STRIP_COLUMNS) -> go.Figure:
    """The text as a grid of tiles: prompt grey, each generated token coloured by p under the model."""
    cells = strip_cells(tokens, columns)
    n_rows = max((c.row for c in cells), default=0) + 1
    # empty cells: no value (not drawn) and empty text (plotly would print "null")
    grids = {kind: [[None] * columns for _ in range(n_rows)] for kind in ("pz", "gz")}
    grids |= {kind: [[""] * columns for _ in range(n_rows)] for kind in ("pt", "gt", "ph", "gh")}
    for c in cells:
        gen = c.token.p_model is not None
        z, t, h = ("gz", "gt", "gh") if gen else ("pz", "pt", "ph")
        grids[z][c.row][c.col] = c.token.p_model if gen else 0.0
        grids[t][c.row][c.col] = _escape(c.token.text)
        grids[h][c.row][c.col] = _hover(c.token)
    common = dict(
        type="heatmap",
        texttemplate="%{text}",
        textfont=dict(size=20, color=TILE_TEXT, family="monospace"),
        hoverinfo="text",
        hoverongaps=False,
        xgap=3,
        ygap=3,
        zmin=0,
        zmax=1,
    )
    data = [
        dict(z=grids["pz"], text=grids["pt"], hovertext=grids["ph"], showscale=False, name="prompt",
             colorscale=[[0, PROMPT_TILE], [1, PROMPT_TILE]], **common),
        dict(z=grids["gz"], text=grids["gt"], hovertext=grids["gh"], colorscale=TILE_SCALE, name="generated",
             showscale=False, **common),  # the page states the scale in words: a colour bar one row high is unreadable
    ]  # fmt: skip
    forced = [c for c in cells if c.token.forced]
    if forced:  # a dark triangle at the foot of each forced tile: chosen by hand, not sampled
        data.append(
            dict(type="scatter", x=[c.col for c in forced], y=[c.row + 0.32 for c in forced], mode="markers",
                 marker=dict(symbol="triangle-up", size=9, color=TILE_TEXT), hoverinfo="skip",
                 showlegend=False, name="forced")
        )  # fmt: skip
    layout = dict(
        xaxis=dict(visible=False, range=[-0.5, columns - 0.5], fixedrange=True),
        yaxis=dict(visible=False, autorange="reversed", fixedrange=True),  # row 0 at the top
        margin=dict(l=5, r=5, t=5, b=5),
        height=STRIP_ROW_PX * n_rows + 10,
        hoverlabel=dict(font=dict(size=15)),
    )
    return _figure(data, layout)


# ---------------------------------------------------------------------------------------------
# Why caching matters


def kv_timing_figure(result: KVTimingResult) -> go.Figure:
    """Milliseconds per token against its position, with and without the key/value cache."""
    data = [
        dict(type="scatter", x=xs, y=ys, name=name, mode="lines+markers", line=dict(color=colour, width=3),
             marker=dict(size=5), hovertemplate="position %{x}: %{y:.2f} ms<extra>" + name + "</extra>")
        for name, xs, ys, colour in (
            ("without cache (recompute the prefix)", result.uncached_positions, result.uncached_ms, UNCACHED_COLOUR),
            ("with key/value cache", result.cached_positions, result.cached_ms, CACHED_COLOUR),
        )
    ]  # fmt: skip
    layout = dict(
        xaxis=dict(title=dict(text="position of the generated token", font=dict(size=15)), tickfont=dict(size=14)),
        yaxis=dict(
            title=dict(text="milliseconds per token", font=dict(size=15)), rangemode="tozero", tickfont=dict(size=14)
        ),  # fmt: skip
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0, font=dict(size=15)),
        margin=dict(l=70, r=20, t=40, b=60),
        height=340,
        hoverlabel=dict(font=dict(size=15)),
    )
    return _figure(data, layout)
