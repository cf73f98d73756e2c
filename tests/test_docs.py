"""The code in the docs runs: every ```python block of each page, in order, in one namespace."""
import pathlib
import re

import pytest

from minicv import checks

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("page", [p for p in PAGES if BLOCK.search(p.read_text())],
                         ids=lambda p: p.name)
def test_page_code_runs(page):
    before = set(checks.CASES)
    namespace = {"__name__": f"docs_{page.stem}"}
    try:
        for number, block in enumerate(BLOCK.findall(page.read_text()), 1):
            code = compile(block, f"{page.name} block {number}", "exec")
            exec(code, namespace)
    finally:
        for name in set(checks.CASES) - before:   # cases a page registered for its example
            del checks.CASES[name]
