"""The registry of gradient-check cases behind ``minicv gradcheck`` and the test suite.

Each registered case is a function ``case(draw) -> Case``: given hypothesis's ``draw`` it picks
inputs (shapes, values kept away from kinks, hyper-parameters) and returns the function to check
and its inputs. ``minicv gradcheck relu`` and ``tests/test_gradcheck_ops.py`` both run every
case through :func:`minicv.gradcheck` over many hypothesis examples, so an op is checked the
same way from the command line and in CI.

Register a case for a new op (your own too)::

    from minicv.checks import Case, register
    from minicv.testing import arrays

    @register("square")
    def _square(draw):
        x = draw(arrays())
        return Case(lambda t: t * t, [x])

Requires hypothesis (``pip install minicv[test]``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from minicv import backend
from minicv.gradcheck import GradcheckError, gradcheck

__all__ = ["Case", "CASES", "register", "strategy", "check_op", "CheckReport"]


@dataclass
class Case:
    """One gradient-check example: ``gradcheck(fn, inputs, **options)``."""
    fn: Callable
    inputs: list
    options: dict = field(default_factory=dict)   # gradcheck keywords: atol, rtol, wrt, ...


CASES: dict[str, Callable] = {}


def register(name: str):
    """Decorator adding ``case(draw) -> Case`` to the registry under the op's ``name``."""
    def decorate(case):
        if name in CASES:
            raise ValueError(f"register: a gradcheck case named {name!r} already exists")
        CASES[name] = case
        return case
    return decorate


def strategy(name: str):
    """The hypothesis strategy drawing Cases for op ``name``."""
    if name not in CASES:
        raise KeyError(f"no gradcheck case named {name!r}; known: {', '.join(sorted(CASES))}")
    return st.composite(CASES[name])()


def run_case(case: Case, backend_name: str = "numpy"):
    """gradcheck one Case, moving its arrays to the GPU first for ``backend_name="cupy"``."""
    inputs = case.inputs
    if backend_name == "cupy":
        inputs = [backend.to_gpu(a) if backend.is_array(a) else a for a in inputs]
    return gradcheck(case.fn, inputs, **case.options)


@dataclass
class CheckReport:
    op: str
    examples: int
    worst_rel_error: float
    passed: bool
    message: str = ""


def check_op(name: str, max_examples: int = 25, backend_name: str = "numpy",
             seed: int | None = None) -> CheckReport:
    """Run op ``name``'s gradient check over ``max_examples`` hypothesis examples.

    On a failure hypothesis shrinks to the simplest failing example, whose message is reported.
    """
    report = CheckReport(name, 0, 0.0, True)

    @settings(max_examples=max_examples, deadline=None, database=None, derandomize=seed is None,
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(strategy(name))
    def run(case):
        result = run_case(case, backend_name)
        report.examples += 1
        report.worst_rel_error = max(report.worst_rel_error, result.max_rel_error)

    if seed is not None:
        run = hypothesis_seed(seed)(run)
    try:
        run()
    except GradcheckError as exc:
        report.passed, report.message = False, str(exc)
    except Exception as exc:  # an op that crashes on valid input fails its check too
        report.passed, report.message = False, f"{type(exc).__name__}: {exc}"
    return report


# The cases, one file per family of ops (later families add their own files here).
from minicv.checks import (activation, arith, conv, loss, normalization, pooling,  # noqa: E402,F401
                           reduction, roi, shape, upsample)
