"""Figures of the PixelCNN lesson: plain functions, arrays in, plotly Figures out.

Every picture of pixels is a heatmap with row 0 at the top (a reversed y range, [rows - 0.5, -0.5])
and square cells, so what a student sees is the image the model reads. Nothing here imports
streamlit; unit tests inspect the returned figures directly.
"""

from __future__ import annotations

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go

from core.models.gated_pixelcnn import horizontal_mask, vertical_mask
from core.models.pixelcnn import pixelcnn_mask

# Colours chosen to stay distinguishable on a projector and in both light and dark themes.
INK = "#ffffff"  # a white (1) pixel
PAPER = "#000000"  # a black (0) pixel
UNDRAWN = "#8c8c8c"  # not sampled yet
KNOWN = "#4c78a8"  # pixels before the current one: the context
CURRENT = "#f58518"  # the pixel being predicted
FUTURE = "#a6a6a6"  # pixels after it: never read
NOT_REACHED = "#ececec"  # earlier pixels outside the receptive field
# Spelled out as rgb(): Streamlit's chart theme swaps named colour scales for its own, and treats the
# hex colours #000001-#0000ff as placeholders for theme colours (Inferno starts at #000004).
INFERNO = [
    [i / (len(pc.sequential.Inferno) - 1), "rgb({}, {}, {})".format(*pc.hex_to_rgb(c))]
    for i, c in enumerate(pc.sequential.Inferno)
]
REACHED = "#4c78a8"  # in the receptive field
BLIND = "#e45756"  # the blind spot
ALLOWED = "#54a24b"  # a kernel tap the mask keeps
BLOCKED = "#bab0ac"  # a kernel tap the mask zeroes


def _grid_layout(fig: go.Figure, size: tuple[int, int], title: str, height: int) -> go.Figure:
    """Square cells, row 0 at the top, integer ticks, no grid lines."""
    rows, cols = size
    fig.update_layout(
        title={"text": title, "font": {"size": 16}},
        height=height,
        margin={"l": 40, "r": 20, "t": 50, "b": 60 if fig.layout.showlegend else 30},  # the legend's row
        plot_bgcolor="rgba(0,0,0,0)",
    )
    fig.update_xaxes(
        range=[-0.5, cols - 0.5],
        showgrid=False,
        zeroline=False,
        constrain="domain",
        title=None,
        dtick=1 if cols <= 10 else 5,
    )
    fig.update_yaxes(
        dtick=1 if rows <= 10 else 5,
        range=[rows - 0.5, -0.5],  # reversed: row 0 at the top, as the image is read
        autorange=False,  # exact, even with the invisible click markers (autorange would pad for them)
        showgrid=False,
        zeroline=False,
        scaleanchor="x",
        constrain="domain",
        title=None,
    )
    return fig


def _categorical(codes: np.ndarray, colours: list[str], hover, gap: int = 1, **kwargs) -> go.Heatmap:
    """A heatmap whose integer codes 0..k-1 each get one flat colour (no colour bar).

    ``gap`` pixels of background between cells show the grid; 0 draws an image as an image.
    """
    k = len(colours)
    scale = []
    for i, c in enumerate(colours):
        scale += [[i / k, c], [(i + 1) / k, c]]
    return go.Heatmap(
        z=codes,
        zmin=-0.5,
        zmax=k - 0.5,
        colorscale=scale,
        showscale=False,
        customdata=hover,
        hovertemplate="row %{y}, column %{x}<br>%{customdata}<extra></extra>" if hover is not None else None,
        hoverinfo="skip" if hover is None else None,
        xgap=gap,
        ygap=gap,
        **kwargs,
    )


def _cells(z: np.ndarray, hover: np.ndarray, colour: str | None = None, **kwargs) -> go.Heatmap:
    """One layer of a receptive-field grid: the non-NaN cells of ``z``, in one flat ``colour`` if given."""
    return go.Heatmap(
        z=z,
        colorscale=[[0, colour], [1, colour]] if colour else None,
        showscale=False,
        customdata=hover,
        hovertemplate="row %{y}, column %{x}<br>%{customdata}<extra></extra>",
        xgap=1,
        ygap=1,
        **kwargs,
    )


def _outline(fig: go.Figure, row: int, col: int, colour: str = CURRENT, width: int = 3) -> None:
    fig.add_shape(
        type="rect",
        x0=col - 0.5,
        x1=col + 0.5,
        y0=row - 0.5,
        y1=row + 0.5,
        line={"color": colour, "width": width},
    )


def _legend(fig: go.Figure, items: list[tuple[str, str]]) -> None:
    """Legend entries for the flat colours of a categorical heatmap (invisible marker traces)."""
    for name, colour in items:
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                marker={"size": 12, "color": colour, "symbol": "square", "line": {"width": 1, "color": "#666"}},
                name=name,
            )
        )
    fig.update_layout(
        showlegend=True,
        # a row at the figure's bottom edge, under the tick labels (just under the plot, it covered them)
        legend={"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0, "x": 0, "font": {"size": 13}},
    )


def raster_order_figure(size: int, row: int, col: int) -> go.Figure:
    """A size x size grid numbered in scan order; the pixel (row, col) is predicted from the earlier ones."""
    index = np.arange(size * size).reshape(size, size)
    current = row * size + col
    codes = np.where(index < current, 0, np.where(index == current, 1, 2))
    hover = np.where(codes == 0, "known: part of the context", np.where(codes == 1, "predicted now", "future"))
    fig = go.Figure(
        _categorical(
            codes,
            [KNOWN, CURRENT, FUTURE],
            hover,
            text=(index + 1).astype(str),
            texttemplate="%{text}",
            textfont={"size": 14 if size <= 8 else 10, "color": "#111111"},
        )
    )
    _legend(fig, [("x<sub>&lt;i</sub> (known)", KNOWN), ("x<sub>i</sub> (predicted)", CURRENT), ("future", FUTURE)])
    return _grid_layout(fig, (size, size), f"Raster order: pixel {current + 1} of {size * size}", 420)


def mask_figure(mask: np.ndarray, title: str = "", legend: bool = True) -> go.Figure:
    """A kernel mask as a small grid: 1 = allowed tap, 0 = blocked tap, the centre outlined."""
    mask = np.asarray(mask)
    kh, kw = mask.shape
    codes = np.where(mask > 0, 0, 1)
    centre = (kh // 2, kw // 2)
    hover = np.where(mask > 0, "allowed: the weight is kept", "blocked: the weight is multiplied by 0").astype(object)
    hover[centre] = "the centre: " + hover[centre]
    fig = go.Figure(
        _categorical(
            codes,
            [ALLOWED, BLOCKED],
            hover,
            text=np.where(mask > 0, "1", "0"),
            texttemplate="%{text}",
            textfont={"size": 26 if max(kh, kw) <= 3 else 20 if max(kh, kw) <= 7 else 13, "color": "#111111"},
        )
    )
    _outline(fig, *centre, colour=CURRENT, width=4)
    if legend:
        _legend(fig, [("allowed", ALLOWED), ("blocked", BLOCKED), ("centre (outlined)", CURRENT)])
    fig = _grid_layout(fig, (kh, kw), title, (360 if kh > 3 else 300 if kh > 1 else 140) + (70 if legend else 0))
    if not title:
        fig.update_layout(margin={"t": 10})
    return fig


def kernel_mask_figures() -> list[tuple[str, str, go.Figure]]:
    """The four kernel masks the lesson compares, as (short key, title, figure without legend)."""
    masks = [
        ("a7", pixelcnn_mask("A", 7), "PixelCNN, layer 1: mask A, 7×7"),
        ("b3", pixelcnn_mask("B", 3), "PixelCNN, later layers: mask B, 3×3"),
        ("v3", vertical_mask("B", 3), "Gated, vertical stack: mask B, 3×3"),
        ("h3", horizontal_mask("B", 3), "Gated, horizontal stack: mask B, 1×3"),
    ]
    return [(key, title, mask_figure(mask.numpy(), legend=False)) for key, mask, title in masks]


def receptive_field_figure(
    growth: np.ndarray,
    row: int,
    col: int,
    blind: np.ndarray | None = None,
    title: str = "",
    clickable: bool = False,
) -> go.Figure:
    """The receptive field of (row, col) coloured by the layer at which each pixel joins it.

    ``growth``: (H, W) int, 0 where the pixel is not reached, else the first layer count that
    reaches it. ``blind``: (H, W) bool pixels before (row, col) that the field misses (drawn red).
    ``clickable`` adds an invisible marker per cell so that a click selects that pixel.
    """
    H, W = growth.shape
    blind = np.zeros_like(growth, dtype=bool) if blind is None else blind
    after = np.arange(H * W).reshape(H, W) >= row * W + col  # the pixel itself and everything after it
    hover = np.where(growth > 0, np.char.add("joins at layer ", growth.astype(str)), "not reached").astype(object)
    hover[blind] = "blind spot: before the pixel, never read"
    hover[after] = "the pixel or its future: never read"
    hover[row, col] = "the pixel being predicted"
    n_max = max(1, int(growth.max()))
    layers = _cells(np.where(growth > 0, growth, np.nan).astype(float), hover, zmin=0.5, zmax=n_max + 0.5)
    layers.update(
        colorscale=[[0, "#08306b"], [1, "#9ecae1"]],  # dark = early layers; never as pale as the background
        showscale=True,
        colorbar={"title": {"text": "layer"}, "thickness": 12, "len": 0.8},
    )
    fig = go.Figure(
        [
            _cells(np.where((growth == 0) & ~after, 1.0, np.nan), hover, NOT_REACHED),  # keeps the grid visible
            layers,
            _cells(np.where(after, 1.0, np.nan), hover, FUTURE),
            _cells(np.where(blind, 1.0, np.nan), hover, BLIND),
        ]
    )
    _outline(fig, row, col)
    _legend(fig, [("blind spot", BLIND), ("pixel and its future", FUTURE)])
    if clickable:
        ys, xs = np.mgrid[0:H, 0:W]
        fig.add_trace(
            go.Scatter(
                x=xs.ravel(),
                y=ys.ravel(),
                mode="markers",
                marker={"size": 10, "opacity": 0},
                selected={"marker": {"opacity": 0}},
                unselected={"marker": {"opacity": 0}},
                customdata=hover.ravel(),
                hovertemplate="row %{y}, column %{x}<br>%{customdata}<extra>click to pick</extra>",
                showlegend=False,
            )
        )
        fig.update_layout(clickmode="event+select", dragmode=False)
    return _grid_layout(fig, (H, W), title, 430)


def field_view_figures(view, title: str) -> tuple[go.Figure, go.Figure]:
    """The two grids of a ``core.lessons.receptive_field.FieldView``: (from the masks, clickable; measured)."""
    analytic = receptive_field_figure(
        view.analytic, view.row, view.col, view.analytic_blind, f"{title}: from the masks", clickable=True
    )
    measured = receptive_field_figure(
        view.measured, view.row, view.col, view.measured_blind, f"{title}: measured by gradient"
    )
    return analytic, measured


def binary_image_figure(image: np.ndarray, title: str = "", height: int = 300) -> go.Figure:
    """A 0/1 image: white ink on black."""
    image = np.asarray(image)
    hover = np.where(image > 0, "1 (ink)", "0 (background)")
    codes = image.astype(int)
    fig = go.Figure(_categorical(codes, [PAPER, INK], hover, gap=0, text=_pixel_text(codes)))
    return _grid_layout(fig, image.shape, title, height)


def _pixel_text(codes: np.ndarray) -> np.ndarray:
    """What each cell of a canvas says in a table: its pixel, 0 or 1, and nothing where code 2 draws no
    pixel (not drawn yet, or the grey line between samples). Not written on the picture."""
    return np.where(codes == 2, "", codes.astype(str))


def sampling_canvas_figure(
    image: np.ndarray,
    step: int,
    raw_probs: np.ndarray | None = None,
    title: str = "",
) -> go.Figure:
    """The canvas during sampling: pixels before ``step`` (raster index) drawn, the rest undrawn.

    ``image`` is the finished sample; pixels at index >= ``step`` are shown as not yet drawn and
    pixel ``step`` (if any) is outlined as the one being drawn now.
    """
    H, W = image.shape
    index = np.arange(H * W).reshape(H, W)
    codes = np.where(index < step, image, 2)
    hover = np.where(codes == 2, "not drawn yet", np.where(codes == 1, "drawn: 1 (ink)", "drawn: 0"))
    if raw_probs is not None:
        p_text = np.char.add("<br>p(ink | pixels before) = ", np.char.mod("%.3f", raw_probs))
        hover = np.where(codes == 2, hover, np.char.add(hover.astype(str), p_text))
    fig = go.Figure(_categorical(codes, [PAPER, INK, UNDRAWN], hover, text=_pixel_text(codes)))
    if step < H * W:
        _outline(fig, step // W, step % W)
    return _grid_layout(fig, (H, W), title, 420)


def sample_grid_figure(images: np.ndarray, n_cols: int = 8, title: str = "") -> go.Figure:
    """(n, H, W) 0/1 images tiled in one heatmap, separated by one grey pixel."""
    n, H, W = images.shape
    n_rows = -(-n // n_cols)
    canvas = np.full((n_rows * (H + 1) - 1, n_cols * (W + 1) - 1), 2)  # 2 = the grey separator
    for i, img in enumerate(images):
        r, c = divmod(i, n_cols)
        canvas[r * (H + 1) : r * (H + 1) + H, c * (W + 1) : c * (W + 1) + W] = img
    fig = go.Figure(_categorical(canvas, [PAPER, INK, UNDRAWN], None, gap=0, text=_pixel_text(canvas)))
    fig = _grid_layout(fig, canvas.shape, title, 40 + 105 * n_rows + (40 if title else 0))
    fig.update_xaxes(showticklabels=False, ticks="")
    fig.update_yaxes(showticklabels=False, ticks="")
    fig.update_layout(margin={"l": 0, "r": 0, "t": 40 if title else 5, "b": 5})
    return fig


def nll_heatmap_figure(nll_map: np.ndarray, title: str = "", zmax: float | None = None) -> go.Figure:
    """Per-pixel -log p(x_ij | pixels before) in nats; the sum of all cells is the image's NLL."""
    zmax = float(np.max(nll_map)) if zmax is None else zmax
    fig = go.Figure(
        go.Heatmap(
            z=nll_map,
            zmin=0,
            zmax=max(zmax, 1e-6),
            colorscale=INFERNO,
            colorbar={"title": {"text": "nats"}, "thickness": 12, "len": 0.8},
            hovertemplate="row %{y}, column %{x}<br>-log p = %{z:.3f} nats<extra></extra>",
        )
    )
    return _grid_layout(fig, nll_map.shape, title, 330)


def nll_comparison_figure(names: list[str], nlls: list[float]) -> go.Figure:
    """A bar per image: its exact NLL in nats (lower = more probable under the model)."""
    fig = go.Figure(
        go.Bar(
            x=names,
            y=nlls,
            text=[f"{v:.1f}" for v in nlls],
            textposition="outside",
            marker_color=[KNOWN, CURRENT, BLIND][: len(names)] + [KNOWN] * max(0, len(names) - 3),
            hovertemplate="%{x}: %{y:.2f} nats<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": "NLL of each image (nats, lower = more likely)", "font": {"size": 16}},
        height=330,
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
        yaxis={"title": "nats", "range": [0, max(nlls) * 1.2 if nlls else 1]},
    )
    return fig
