"""Figures of xlt's reports, drawn with matplotlib's object API (no pyplot state, no display).

* :func:`new_figure` - a figure with an Agg canvas, constrained layout, 100 dpi;
* :func:`heatmap` - a labelled matrix as a PNG heat map (alignment per layer, language
  similarity, transfer matrices).

matplotlib is imported when a figure is made, not with this module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["heatmap", "new_figure"]


def new_figure(width: float, height: float):
    """A matplotlib ``Figure`` of ``width`` × ``height`` inches (100 dpi, constrained layout) with an
    Agg canvas, ready for ``fig.savefig(path, format="png")``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: heavy import
    from matplotlib.figure import Figure  # lazy: heavy import

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def heatmap(path: Path, values: np.ndarray, rows: list[str], cols: list[str], title: str, label: str,
            vmin: float | None = None, vmax: float | None = None, digits: int = 0, xlabel: str = "") -> None:
    """Write a ``(len(rows), len(cols))`` matrix as a PNG heat map (cells annotated up to 400 cells).

    Args:
        path: output file. values: ``(n_rows, n_cols)`` floats (NaN = no value). rows, cols: tick
            labels. title, label: plot title and colour-bar label. vmin, vmax: colour range.
        digits: decimals of the cell annotations. xlabel: x-axis label.
    """
    n_r, n_c = values.shape
    fs = 8 if max(n_r, n_c) <= 30 else 5
    fig = new_figure(max(5.0, 0.35 * n_c + 2.5), max(3.5, 0.25 * n_r + 1.5))
    ax = fig.add_subplot()
    im = ax.imshow(values, aspect="auto", cmap="viridis", vmin=vmin, vmax=vmax)
    ax.set_xticks(range(n_c), labels=cols, fontsize=fs, rotation=90 if n_c > 15 else 0)
    ax.set_yticks(range(n_r), labels=rows, fontsize=fs)
    if n_r * n_c <= 400:
        mid = (np.nanmax(values) + np.nanmin(values)) / 2
        for i in range(n_r):
            for j in range(n_c):
                ax.text(j, i, f"{values[i, j]:.{digits}f}", ha="center",
                        va="center", fontsize=fs - 1, color="black" if values[i, j] > mid else "white")
    fig.colorbar(im, ax=ax, label=label)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=9)
    fig.savefig(path, format="png")
