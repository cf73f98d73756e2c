"""Every registered op passes its float64 gradient check over hypothesis examples.

The cases live in minicv/checks/ (one file per family); `minicv gradcheck` runs the same ones.
The number of examples follows the hypothesis profile (HYPOTHESIS_PROFILE=thorough for more).
"""
import pytest
from hypothesis import given

import minicv.functional as F
from minicv import checks


@pytest.mark.parametrize("name", sorted(checks.CASES))
def test_op_gradient_matches_finite_differences(name, xp):
    backend_name = "cupy" if xp.__name__ == "cupy" else "numpy"

    @given(checks.strategy(name))
    def check(case):
        checks.run_case(case, backend_name)

    check()


# Functions that are aliases or not differentiable ops need no case of their own.
_NOT_OPS = {"cat"}


def test_every_public_op_has_a_gradcheck_case():
    missing = sorted(set(F.__all__) - set(checks.CASES) - _NOT_OPS)
    assert not missing, f"ops without a registered gradcheck case: {missing}"


@pytest.mark.parametrize("name", sorted(checks.CASES))
def test_every_case_fails_when_the_gradients_are_wrong(name, monkeypatch):
    """No registered check is vacuous: with every backward's result scaled by 1.5 (patched into
    the engine, so it reaches every op), each op's check must fail on some drawn example."""
    from hypothesis import Phase, settings
    from minicv import GradcheckError, autograd

    fit = autograd._fit_gradient
    monkeypatch.setattr(autograd, "_fit_gradient", lambda gx, *args: fit(gx, *args) * 1.5)

    @settings(max_examples=20, phases=[Phase.generate], database=None)
    @given(checks.strategy(name))
    def check(case):
        checks.run_case(case)

    with pytest.raises(GradcheckError, match="gradcheck failed for input"):
        check()
