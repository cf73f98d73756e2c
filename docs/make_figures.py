"""Redraw the figures of the docs into docs/figures/ (needs matplotlib: pip install minicv[plot]).

    python docs/make_figures.py

Each figure is computed with minicv's own ops by a function of minicv.viz (see DOC_FIGURES there).
"""
import pathlib

from minicv import viz

FIGURES = pathlib.Path(__file__).resolve().parent / "figures"


def main(out: pathlib.Path = FIGURES) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, draw in viz.DOC_FIGURES.items():
        draw(out / name)
        print(f"wrote {out / name} ({(out / name).stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
