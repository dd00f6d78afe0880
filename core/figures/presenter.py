"""One figure made readable on a projector: bigger fonts, a height that fits a 1280x720 screen.

Presenter view (a toggle on every lesson page) passes a page's main figure through ``for_projector``;
the figure functions of the other modules stay as they are. A plain function: a test reads the result.
"""

from __future__ import annotations

import plotly.graph_objects as go

PROJECTOR_FONT = 18  # px: a chart's body text read from the back of a room (plotly's default is 12)
PROJECTOR_HEIGHT = 520  # px: the figure, its title and a line of text above it fit a 720 px screen
SMALLEST = 14  # px: no text smaller than this, not even a tick label
MARK = "for_projector"  # in the layout's meta of a figure made readable on a projector


def for_projector(fig: go.Figure, height: int | None = PROJECTOR_HEIGHT, font: int = PROJECTOR_FONT) -> go.Figure:
    """A copy of ``fig`` with fonts scaled by ``font / 12`` (never below ``SMALLEST``) and ``height`` px tall
    (None: the figure's own height). A figure that went through it already comes back as it is (a copy): its
    sizes grow once, so a page's main figure, enlarged by the page, is not enlarged again with the others.

    Sizes a figure set itself (an annotation's, a tick font's, a trace's text) grow by the same factor, so
    what was smaller stays smaller; unset sizes inherit the layout font. Axes keep plotly's automatic
    margins, so bigger tick labels push the plot area in instead of being cut at the edge; a legend in a row
    under the plot moves to a column at its right, where the bigger tick labels cannot run into it.
    """
    out = go.Figure(fig)  # a deep copy: the caller's figure (perhaps cached) is not changed
    if isinstance(out.layout.meta, dict) and out.layout.meta.get(MARK):
        return out
    factor = font / 12

    def grow(size: float | None) -> float:
        return max(SMALLEST, round((size or 12) * factor))

    layout = out.layout
    out.update_layout(
        meta={**(layout.meta if isinstance(layout.meta, dict) else {}), MARK: True},
        height=height if height is not None else layout.height,
        font_size=font,
        title_font_size=grow(layout.title.font.size or 17),  # plotly's default title is 17 px
        legend_font_size=grow(layout.legend.font.size),
        margin_autoexpand=True,
    )
    specs = [t.to_plotly_json() for t in out.data]  # only what each trace set: an unset colour bar, touched, is drawn
    under = layout.legend.yref == "container" or (layout.legend.y is not None and layout.legend.y < 0)
    colour_bar = any("colorbar" in s or "colorbar" in s.get("marker", {}) for s in specs)
    if layout.legend.orientation == "h" and under and not colour_bar:  # (a colour bar holds the right margin)
        # a legend in a row under the plot sits at a fixed distance that grown tick labels would cross:
        # a column at the right instead (plotly widens the right margin for it)
        out.update_layout(legend=dict(orientation="v", x=1.02, xanchor="left", y=1, yanchor="top"))
    axis_kinds = ("xaxis", "yaxis")
    for name in [n for n in layout if n.startswith(axis_kinds)]:
        axis = layout[name]
        axis.tickfont.size = grow(axis.tickfont.size)
        axis.title.font.size = grow(axis.title.font.size)
        axis.automargin = True
    for trace, spec in zip(out.data, specs, strict=True):
        if "colorbar" in spec:
            trace.colorbar.tickfont.size = grow(trace.colorbar.tickfont.size)
        if "colorbar" in spec.get("marker", {}):
            trace.marker.colorbar.tickfont.size = grow(trace.marker.colorbar.tickfont.size)
        if "textfont" in trace and isinstance(trace.textfont.size, int | float):
            trace.textfont.size = grow(trace.textfont.size)
    for note in layout.annotations:
        note.font.size = grow(note.font.size)
    return out
