"""The two matplotlib helpers every figure uses: a pyplot-free Figure, and an optional save."""
from __future__ import annotations


def new_figure(**kwargs):
    """A ``matplotlib.figure.Figure`` (no pyplot: no global state, no backend switching)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("minicv.viz draws with matplotlib, which is not installed: "
                          "pip install 'minicv[plot]' (or pip install matplotlib)") from exc
    return Figure(**kwargs)


def save(fig, path, dpi):
    """Save ``fig`` as a PNG when ``path`` is given; return it either way."""
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig
