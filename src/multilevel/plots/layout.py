"""Margins measured from the labels, for a figure whose axes form one grid: what the
report's PNGs use instead of matplotlib's constrained layout.

Constrained layout measures every axes' tight bounding box twice, which makes and
updates each tick's five artists for every pass; the figure is then drawn, which updates
them again (a third of the report's figure time, bench/README.md 2026-12-05). The
margins here come from the texts alone: the axis labels, the titles, the suptitle, and
the tick labels that each axis's locator and formatter give for its limits, measured by
the renderer that then draws them. Two passes, as constrained layout makes, because the
number of ticks depends on the axes' size.

A figure this does not describe (axes spanning several cells, axes outside the grid such
as colorbars or insets, two axes in one cell, a figure legend or x/y label, subfigures,
labelled minor ticks as on a log axis) keeps its layout engine: :func:`place_axes`
returns False and changes nothing.
"""

from __future__ import annotations

import numpy as np

PAD = 3 / 72    # inches around each panel's decorations and at the figure's edges (constrained's w_pad)
POINT = 1 / 72  # inches


def place_axes(fig, renderer=None) -> bool:
    """Position the axes of ``fig``'s grid so that every label, tick label and title fits.

    Parameters
    ----------
    fig : matplotlib Figure
        Its visible axes are one GridSpec's cells, one axes per cell (``fig.subplots``).
    renderer : matplotlib renderer, optional
        The one that draws the figure (its text metrics); default: an Agg canvas's at
        the figure's resolution (the figure's canvas becomes that canvas).

    Returns
    -------
    bool
        True when the axes were placed; False, with nothing changed, for a figure this
        does not describe (see the module's docstring) or one too small for its labels.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(6, 3))
    >>> ax = fig.subplots()
    >>> _ = ax.plot([0, 1], [0, 1e3]); _ = ax.set_ylabel("y"); _ = ax.set_title("t")
    >>> place_axes(fig)
    True
    """
    grid = _grid(fig)
    if grid is None:
        return False
    if renderer is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        renderer = FigureCanvasAgg(fig).get_renderer()
    gridspec, cells = grid
    width, height = fig.get_size_inches()
    before = {ax: ax.get_position(original=True).frozen() for ax in cells}
    title = getattr(fig, "_suptitle", None)
    title_at = title.get_position() if title is not None else None
    top_space = _suptitle_space(fig, renderer, height)
    for _ in range(2):   # the tick labels of the axes' final size may differ from the first
        margins = {ax: _decorations(ax, renderer) for ax in cells}
        placed = _positions(gridspec, cells, margins, width, height, top_space)
        if placed is None:   # the labels take the figure: put back what was moved
            for ax, box in before.items():
                ax.set_position(box)
            if title is not None:
                title.set_position(title_at)
            return False
        for ax, box in placed.items():
            ax.set_position(box)
    return True


def _grid(fig):
    """``(gridspec, {axes: (row, col)})`` of the visible axes, or None where the figure has
    anything else."""
    if fig.legends or getattr(fig, "subfigs", None) or any(
            getattr(fig, name, None) is not None for name in ("_supxlabel", "_supylabel")):
        return None
    cells, gridspec = {}, None
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        spec = ax.get_subplotspec()
        if spec is None or len(spec.rowspan) != 1 or len(spec.colspan) != 1:
            return None
        if gridspec is None:
            gridspec = spec.get_gridspec()
        if spec.get_gridspec() is not gridspec or getattr(gridspec, "_subplot_spec", None) is not None:
            return None   # another grid, or a grid nested in a cell
        cell = (spec.rowspan.start, spec.colspan.start)
        if cell in cells.values():
            return None   # twin axes share a cell
        if any(_minor_labels(axis) for axis in (ax.xaxis, ax.yaxis)):
            return None   # minor tick labels (a log axis): not measured here
        cells[ax] = cell
    return (gridspec, cells) if cells else None


def _minor_labels(axis) -> bool:
    """Whether the axis may label its minor ticks (a log axis does, a linear one not)."""
    from matplotlib.ticker import NullFormatter, NullLocator

    return axis.get_visible() and not (isinstance(axis.get_minor_formatter(), NullFormatter)
                                       or isinstance(axis.get_minor_locator(), NullLocator))


def _suptitle_space(fig, renderer, height: float) -> float:
    """Inches above the grid for the suptitle, which goes to the top as constrained
    layout puts it (unless its y was given)."""
    title = getattr(fig, "_suptitle", None)
    if title is None or not title.get_visible() or not title.get_text():
        return 0.0
    if getattr(title, "_autopos", False):
        title.set_y(1 - PAD / height)
    extent = title.get_window_extent(renderer)
    return max(0.0, height - extent.y0 / fig.dpi) + PAD


def _metrics(renderer, text: str, prop) -> tuple[float, float, float]:
    """Width, height and descent of one line in pixels, through matplotlib's own cache of
    text metrics, which the draw then reads (the measuring is not done twice)."""
    import matplotlib.text as mtext
    from matplotlib.cbook import is_math_text

    ismath = is_math_text(text)
    cached = getattr(mtext, "_get_text_metrics_with_cache", None)
    if cached is None:   # another matplotlib: the renderer itself
        return renderer.get_text_width_height_descent(text, prop, ismath=ismath)
    return cached(renderer, text, prop, ismath, renderer.dpi)


def _text_inches(renderer, texts, prop, fig) -> np.ndarray:
    """Width and height of each of ``texts`` (one line each) in the font ``prop``, as rows
    of inches. Widths from the renderer's metrics; the line's height from one laid-out
    text (matplotlib makes every line at least as tall as the font's ascent and descent)."""
    from matplotlib.text import Text

    if not texts:
        return np.zeros((0, 2))
    metrics = [_metrics(renderer, text, prop) if text else (0.0, 0.0, 0.0) for text in texts]
    tallest = texts[int(np.argmax([h for _, h, _ in metrics]))]
    probe = Text(0, 0, tallest or "lp", fontproperties=prop)
    probe.set_figure(fig)
    line = probe.get_window_extent(renderer).height
    return np.array([(w, max(h, line)) for w, h, _ in metrics]) / fig.dpi


def _label_inches(text, renderer, dpi: float) -> tuple[float, float]:
    """Width and height of a label (any lines, any rotation); zero when not shown."""
    if text is None or not text.get_visible() or not text.get_text():
        return 0.0, 0.0
    box = text.get_window_extent(renderer)
    return box.width / dpi, box.height / dpi


def _descent(renderer, text: str, prop) -> float:
    """Pixels below the baseline of the last line of ``text``: at least the font's
    descent, as matplotlib lays a line out."""
    last = text.split("\n")[-1]
    return max(_metrics(renderer, last, prop)[2] if last else 0.0, _metrics(renderer, "lp", prop)[2])


def _title_inches(ax, renderer, dpi: float) -> float:
    """How far the titles reach above the axes: a title's baseline is the title offset
    (rcParams axes.titlepad, or set_title's pad) above the axes, its descent below it."""
    reach = 0.0
    for title in (ax.title, getattr(ax, "_left_title", None), getattr(ax, "_right_title", None)):
        _, height = _label_inches(title, renderer, dpi)
        if height:
            reach = max(reach, height - _descent(renderer, title.get_text(), title.get_fontproperties()) / dpi)
    return reach + abs(ax.titleOffsetTrans.get_matrix()[1, 2]) / dpi if reach else 0.0


def _tick_labels(axis):
    """The tick labels the axis will draw: its locator's locations within the limits, as
    its formatter writes them, and the formatter's offset text ("1e6")."""
    low, high = sorted(axis.get_view_interval())
    locations = np.asarray(axis.get_majorticklocs(), dtype=float)
    formatter = axis.get_major_formatter()
    labels = formatter.format_ticks(locations)   # sets the offset that get_offset returns
    span = max(high - low, np.finfo(float).tiny)
    inside = [(loc, label) for loc, label in zip(locations, labels)
              if low - 1e-9 * span <= loc <= high + 1e-9 * span]
    return inside, formatter.get_offset(), (low, high)


def _decorations(ax, renderer) -> dict:
    """Inches that ``ax``'s decorations take on each side of it (its pads included)."""
    dpi = ax.figure.dpi
    sides = {"left": 0.0, "right": 0.0, "bottom": 0.0, "top": 0.0}
    sides["top"] += _title_inches(ax, renderer, dpi)
    overhang = dict.fromkeys(sides, 0.0)   # end tick labels reaching past the axes' ends
    for axis, near, far, ends in ((ax.xaxis, "bottom", "top", ("left", "right")),
                                  (ax.yaxis, "left", "right", ("bottom", "top"))):
        if not axis.get_visible():
            continue
        tick = axis.majorTicks[0]   # what every tick of the axis copies its fonts and sizes from
        inside, offset, (low, high) = _tick_labels(axis)
        sizes = _text_inches(renderer, [label for _, label in inside], tick.label1.get_fontproperties(),
                             ax.figure)
        across_axis, along_axis = (1, 0) if axis is ax.xaxis else (0, 1)
        depth = sizes[:, across_axis].max(initial=0.0)   # the labels' extent away from the axes
        tick_length = tick.tick1line.get_markersize() * POINT
        outward = {"out": tick_length, "inout": tick_length / 2}.get(tick.get_tickdir(), 0.0)
        pad = tick.get_pad() * POINT
        for side, line, text in ((near, tick.tick1line, tick.label1), (far, tick.tick2line, tick.label2)):
            sides[side] += outward if line.get_visible() else 0.0
            if text.get_visible() and inside:
                sides[side] += pad + depth
        if inside and (tick.label1.get_visible() or tick.label2.get_visible()):
            # the end labels, centred on their ticks, reach past the axes' ends
            box = ax.get_position()
            length = (box.width * ax.figure.get_figwidth() if axis is ax.xaxis
                      else box.height * ax.figure.get_figheight())
            span = max(high - low, np.finfo(float).tiny)
            locations = np.array([loc for loc, _ in inside])
            first, last = int(np.argmin(locations)), int(np.argmax(locations))
            for end, k, distance in ((ends[0], first, locations[first] - low),
                                     (ends[1], last, high - locations[last])):
                overhang[end] = max(overhang[end], sizes[k, along_axis] / 2 - distance / span * length)
        lw, lh = _label_inches(axis.label, renderer, dpi)
        label = axis.labelpad * POINT + (lh if axis is ax.xaxis else lw) if lw or lh else 0.0
        # the offset text ("1e6") is beside the x label at its level, and beside the
        # title above the y axis (the title moves up only where they would overlap)
        beside = 0.0
        if offset and axis.offsetText.get_visible():
            # OFFSETTEXTPAD (points) below x's tick labels, hanging; above the y axis, on its baseline
            prop = axis.offsetText.get_fontproperties()
            height = _text_inches(renderer, [offset], prop, ax.figure)[0, 1]
            if axis is ax.yaxis:
                height -= _descent(renderer, offset, prop) / dpi
            beside = axis.OFFSETTEXTPAD * POINT + height
        label_side = axis.get_label_position()
        if axis is ax.yaxis:
            sides[label_side] += label
            sides["top"] = max(sides["top"], beside)
        elif label_side == near:   # the x label and the offset text side by side
            sides[near] += max(label, beside)
        else:
            sides[label_side] += label
            sides[near] += beside
    return {side: max(value, overhang[side]) + PAD for side, value in sides.items()}


def _positions(gridspec, cells, margins, width: float, height: float, top_space: float):
    """Each axes' [left, bottom, width, height] in figure fractions, or None where the
    labels leave no room."""
    nrows, ncols = gridspec.get_geometry()
    widths = np.asarray(gridspec.get_width_ratios() or [1] * ncols, dtype=float)
    heights = np.asarray(gridspec.get_height_ratios() or [1] * nrows, dtype=float)
    left, right = np.zeros(ncols), np.zeros(ncols)
    top, bottom = np.zeros(nrows), np.zeros(nrows)
    for ax, (row, col) in cells.items():
        m = margins[ax]
        left[col] = max(left[col], m["left"])
        right[col] = max(right[col], m["right"])
        top[row] = max(top[row], m["top"])
        bottom[row] = max(bottom[row], m["bottom"])
    # each side's decorations end in a pad, which is also the figure's edge
    free_w = width - left.sum() - right.sum()
    free_h = height - top_space - top.sum() - bottom.sum()
    if free_w <= 0.1 * width or free_h <= 0.1 * height:
        return None   # the labels take the figure: constrained layout says what it can
    cell_w = free_w * widths / widths.sum()
    cell_h = free_h * heights / heights.sum()
    x0 = np.cumsum(left) + np.concatenate([[0], np.cumsum(cell_w + right)[:-1]])
    y_top = height - top_space - np.cumsum(top) - np.concatenate([[0], np.cumsum(cell_h + bottom)[:-1]])
    return {ax: [x0[col] / width, (y_top[row] - cell_h[row]) / height, cell_w[col] / width,
                 cell_h[row] / height]
            for ax, (row, col) in cells.items()}
